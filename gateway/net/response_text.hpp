#pragma once
// response_text: an HTTP answer as the bytes that go on the wire.
//
// Every answer Herald writes has a string body that prepare_payload() has
// sized, so writing it needs no serializer state machine: the status line,
// the fields and the body appended to one reusable string go out in one
// send. Beast's serializer (its buffers_cat sequences) was ~7 % of the CPU
// of a /push under wrk (perf, issue 8).
//
// Thread contract: a pure function; `out` belongs to the caller.
#include <string>

#include "api/http_api.hpp"

namespace herald::net {

// Appends `res` as HTTP/1.x bytes to `out`. Call after prepare_payload().
void append_response_text(const api::response& res, std::string& out);

}  // namespace herald::net
