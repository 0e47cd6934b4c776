// A small uWebSockets server of the wserver compat API: the "lean C++ event loop" peer
// of bench/run.sh (issue 8's uWebSockets column). One loop, one thread.
//
//   GET  /ws      WebSocket; the first {"token":"<user>","event":"<event>"} frame
//                 subscribes the socket to the uWS topic "<user>\x1f<event>";
//                 {"op":"ping","id":N} is answered {"op":"pong","id":N}, in order.
//   POST /push    {"userId","event","message"} -> 200 "message sent to N clients"
//                 (N = the topic's subscribers, the message is published to them)
//   GET  /health  "ok"
//
// Written the way uWS's own examples are: per-socket user data, the app's TopicTree for
// delivery (one serialisation, corked writes per loop pass), automatic pings
// (idleTimeout), backpressure bounded like Herald's default queue (1 MiB).
// Loopback only. Not built by CI: see README.md in this directory.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "App.h"

namespace {

struct socket_data {
  bool registered = false;
};

// The JSON string value of "key" in a flat object, with \" and \\ unescaped; empty when
// absent. The bench sends plain ASCII, so that is all the escaping that matters here.
std::string string_field(std::string_view json, std::string_view key) {
  const std::string quoted = "\"" + std::string{key} + "\"";
  auto pos = json.find(quoted);
  if (pos == std::string_view::npos) return {};
  pos = json.find(':', pos + quoted.size());
  if (pos == std::string_view::npos) return {};
  pos = json.find('"', pos + 1);
  if (pos == std::string_view::npos) return {};
  std::string out;
  for (auto i = pos + 1; i < json.size(); ++i) {
    const char c = json[i];
    if (c == '"') return out;
    if (c == '\\' && i + 1 < json.size()) { out += json[++i]; continue; }
    out += c;
  }
  return {};
}

// The raw (number) value of "id", or empty.
std::string_view id_field(std::string_view json) {
  auto pos = json.find("\"id\"");
  if (pos == std::string_view::npos) return {};
  pos = json.find(':', pos + 4);
  if (pos == std::string_view::npos) return {};
  auto end = json.find_first_of(",}", pos + 1);
  if (end == std::string_view::npos) return {};
  return json.substr(pos + 1, end - pos - 1);
}

std::string topic_of(std::string_view user, std::string_view event) {
  std::string t{user};
  t += '\x1f';
  t += event;
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  const char* host = "127.0.0.1";
  int port = argc > 1 ? std::atoi(argv[1]) : 8080;
  uWS::App app;
  app.ws<socket_data>("/ws", {
      .maxPayloadLength = 64 * 1024,
      .idleTimeout = 60,  // pings automatically before it runs out (Herald: 25 s / 60 s)
      .maxBackpressure = 1024 * 1024,
      .closeOnBackpressureLimit = true,
      .message = [](auto* ws, std::string_view frame, uWS::OpCode) {
        if (frame.find("\"op\":\"ping\"") != std::string_view::npos) {
          const auto id = id_field(frame);
          const std::string reply = id.empty() ? std::string{R"({"op":"pong"})"}
                                               : R"({"op":"pong","id":)" + std::string{id} + "}";
          ws->send(reply, uWS::OpCode::TEXT);
          return;
        }
        auto* data = ws->getUserData();
        if (data->registered) return;
        const auto token = string_field(frame, "token");
        if (token.empty()) return;
        data->registered = true;
        ws->subscribe(topic_of(token, string_field(frame, "event")));
      },
  });
  app.post("/push", [&app](auto* res, auto*) {
    auto body = std::make_shared<std::string>();
    res->onAborted([] {});
    res->onData([&app, res, body](std::string_view chunk, bool last) {
      body->append(chunk);
      if (body->size() > (1 << 20)) { res->writeStatus("413 Payload Too Large")->end("too large"); return; }
      if (!last) return;
      const auto user = string_field(*body, "userId");
      if (user.empty()) { res->writeStatus("400 Bad Request")->end("bad push body"); return; }
      const auto topic = topic_of(user, string_field(*body, "event"));
      const unsigned n = app.numSubscribers(topic);
      if (n) app.publish(topic, string_field(*body, "message"), uWS::OpCode::TEXT);
      res->writeHeader("Content-Type", "text/plain")
          ->end("message sent to " + std::to_string(n) + " clients");
    });
  });
  app.get("/health", [](auto* res, auto*) { res->end("ok"); });
  app.listen(host, port, [host, port](auto* listen_socket) {
    if (listen_socket) std::fprintf(stderr, "uws-peer listening on %s:%d\n", host, port);
    else std::fprintf(stderr, "uws-peer cannot listen on %s:%d\n", host, port);
  });
  app.run();
  return 1;
}
