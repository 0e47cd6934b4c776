#define BOOST_TEST_MODULE herald unit tests
#include <boost/test/unit_test.hpp>
