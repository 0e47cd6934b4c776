#pragma once
// Socket and stream types shared by the net layer. Every socket is bound to
// its shard's io_context executor directly (not the type-erased
// any_io_executor): smaller objects and no indirection per operation.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace herald::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using executor_t = asio::io_context::executor_type;
using socket_t = asio::basic_stream_socket<tcp, executor_t>;
using acceptor_t = asio::basic_socket_acceptor<tcp, executor_t>;

}  // namespace herald::net
