// Boost.Asio and Boost.Beast compiled once for the whole gateway
// (BOOST_ASIO_SEPARATE_COMPILATION / BOOST_BEAST_SEPARATE_COMPILATION are set
// on every target that links herald_core), instead of in every translation
// unit that includes them: this saves minutes per build on two cores.
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
