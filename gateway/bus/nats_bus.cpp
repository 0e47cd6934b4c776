#include "bus/nats_bus.hpp"

#include <nats/nats.h>

#include <charconv>
#include <chrono>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "bus/jetstream_replies.hpp"
#include "bus/subjects.hpp"
#include "proto/json_text.hpp"
#include "util/log.hpp"

namespace herald::bus {

namespace asio = boost::asio;

namespace {

using clock = std::chrono::steady_clock;
using msg_handle = std::unique_ptr<natsMsg, decltype(&natsMsg_Destroy)>;

// A node not heard from for this long is no longer counted in the fleet
// (four missed beats): until then publications wait --bus-ack-timeout for
// its count and answer partial, so this bounds how long a dead node costs.
constexpr auto member_ttl = std::chrono::milliseconds(2000);
constexpr auto heartbeat_period = std::chrono::milliseconds(500);
constexpr auto stream_check_period = std::chrono::seconds(5);

std::string header(natsMsg* m, const char* key) {
  const char* v = nullptr;
  if (natsMsgHeader_Get(m, key, &v) != NATS_OK || v == nullptr) return {};
  return v;
}

template <class Int>
Int header_number(natsMsg* m, const char* key) {
  auto s = header(m, key);
  Int v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

std::string_view data_of(natsMsg* m) {
  const char* d = natsMsg_GetData(m);
  return d ? std::string_view(d, static_cast<std::size_t>(natsMsg_GetDataLength(m))) : std::string_view();
}

// "404" for Direct Get's "no such message", "503" for "no responders".
bool has_status(natsMsg* m, const char* code) { return header(m, "Status") == code; }

record record_of(natsMsg* m, std::string key) {
  record r;
  r.key = std::move(key);
  auto kind = header(m, "Herald-Kind");
  r.kind = kind.empty() ? 't' : kind[0];
  r.offset = header_number<std::uint64_t>(m, "Nats-Sequence");
  r.prev = header_number<std::uint64_t>(m, "Nats-Last-Sequence");
  r.ts_ms = header_number<std::int64_t>(m, "Herald-Ts");
  r.from = header(m, "Herald-From");
  r.event = header(m, "Herald-Event");
  r.id = header(m, "Herald-Id");
  r.node = header(m, "Herald-Node");
  r.data = std::string(data_of(m));
  return r;
}

std::string random_hex(std::size_t n) {
  static constexpr char hex[] = "0123456789abcdef";
  std::random_device rd;
  std::mt19937_64 rng(rd());
  std::string s(n, '0');
  for (auto& c : s) c = hex[rng() & 0xf];
  return s;
}

void open_library() {
  static std::once_flag once;
  std::call_once(once, [] {
    nats_Open(-1);
    // One delivery thread for every subscription of the process: callbacks
    // only post, and one thread keeps a publication and the count query
    // that follows it in the order the server sent them.
    nats_SetMessageDeliveryPoolSize(1);
  });
}

std::string nanos(double seconds) { return std::to_string(static_cast<std::int64_t>(seconds * 1e9)); }

}  // namespace

struct nats_bus::impl {
  struct pending {
    std::function<bool(natsMsg*)> on_reply;  // returns true when the request is finished
    std::function<void()> on_timeout;
    asio::steady_timer timer;
  };
  struct publish_op;
  struct history_op;

  explicit impl(nats_bus& b) : self(b) {}

  nats_bus& self;
  sink* out = nullptr;
  asio::io_context ioc{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
  std::thread thread;
  natsOptions* opts = nullptr;
  natsConnection* nc = nullptr;
  std::vector<natsSubscription*> fixed_subs;
  std::string nonce = random_hex(12);
  std::string inbox_prefix = "_INBOX." + nonce + ".";
  std::atomic<std::uint64_t> next_id{1};
  std::atomic<int> live_subs{0};
  std::atomic<bool> stopping{false};
  bool stopped = false;
  std::chrono::nanoseconds ack_timeout{};

  // Bus thread only.
  std::uint64_t next_token = 1;
  std::unordered_map<std::uint64_t, std::unique_ptr<pending>> pendings;
  reply_reader reader;
  bool stream_ready = false;
  std::unordered_map<std::string, clock::time_point> members;
  asio::steady_timer heartbeat_timer{ioc};
  asio::steady_timer stream_timer{ioc};

  std::mutex epoch_mutex;  // the epoch is set on the bus thread, read by others
  std::shared_ptr<const std::string> epoch;
  std::atomic<std::uint64_t> epoch_version{0};
  // The delivery thread's copy, refreshed only when the version moves, so a
  // publication from the bus takes no lock. One delivery thread runs every
  // callback of the process (open_library), so these two need no guard.
  std::shared_ptr<const std::string> delivery_epoch;
  std::uint64_t delivery_epoch_version = 0;

  const std::shared_ptr<const std::string>& epoch_for_delivery() {
    const auto v = epoch_version.load(std::memory_order_acquire);
    if (v != delivery_epoch_version) {
      std::lock_guard lock(epoch_mutex);
      delivery_epoch = epoch;
      delivery_epoch_version = v;
    }
    return delivery_epoch;
  }

  std::string inbox(std::uint64_t token) const { return inbox_prefix + std::to_string(token); }
  std::string api(const char* verb) const { return std::string("$JS.API.") + verb + "." + self.settings_.stream; }

  // --- requests -------------------------------------------------------
  std::uint64_t expect(std::function<bool(natsMsg*)> on_reply, std::function<void()> on_timeout,
                       std::chrono::nanoseconds timeout) {
    const auto token = next_token++;
    auto p = std::make_unique<pending>(pending{std::move(on_reply), std::move(on_timeout), asio::steady_timer(ioc)});
    p->timer.expires_after(timeout);
    p->timer.async_wait([this, token](boost::system::error_code ec) {
      if (ec) return;
      auto it = pendings.find(token);
      if (it == pendings.end()) return;
      auto gone = std::move(it->second);
      pendings.erase(it);
      if (gone->on_timeout) gone->on_timeout();
    });
    pendings.emplace(token, std::move(p));
    return token;
  }

  // Deferred: the request being cancelled may be the one whose handler is
  // running. A timer that already fired still runs its handler, so every
  // handler checks whether its operation has finished.
  void cancel(std::uint64_t token) {
    auto it = pendings.find(token);
    if (it == pendings.end()) return;
    it->second->timer.cancel();
    asio::post(ioc, [this, token] { pendings.erase(token); });
  }

  void on_inbox(std::uint64_t token, natsMsg* raw) {
    msg_handle m(raw, natsMsg_Destroy);
    auto it = pendings.find(token);
    if (it == pendings.end()) return;  // a late answer: its request already timed out
    pending* p = it->second.get();
    if (p->on_reply(m.get())) cancel(token);
  }

  void request(std::string_view subject, std::uint64_t token, std::string_view body) {
    std::string subj(subject);
    natsConnection_PublishRequest(nc, subj.c_str(), inbox(token).c_str(), body.data(), static_cast<int>(body.size()));
  }

  // --- connection state -----------------------------------------------
  void on_connected(bool again) {
    if (stopping) return;
    self.connected_ = true;
    if (again) ++self.counters_.reconnects;
    util::log(util::log_level::info, again ? "bus reconnected" : "bus connected", {{"node", self.settings_.node}});
    ensure_stream();
    send_heartbeat();
    if (again) out->on_resync();
  }

  void on_disconnected() {
    if (stopping) return;  // our own close at shutdown, not trouble
    if (!self.connected_.exchange(false)) return;
    ++self.counters_.disconnects;
    util::log(util::log_level::warn, "bus disconnected: cross-node delivery paused, local delivery goes on",
              {{"node", self.settings_.node}});
  }

  // --- the history stream ---------------------------------------------
  void ensure_stream() {
    if (!self.connected_ || stopping) return;
    auto t = expect(
        [this](natsMsg* m) {
          auto st = reader.read_stream_info(data_of(m));
          if (st.error && (st.error->err_code == 10059 || st.error->code == 404)) {
            create_stream();
          } else if (st.error || has_status(m, "503")) {
            retry_stream(st.error ? st.error->description : "JetStream not available");
          } else {
            set_stream(st);
          }
          return true;
        },
        [this] { retry_stream("stream info timed out"); }, ack_timeout * 4);
    request(api("STREAM.INFO"), t, "");
  }

  std::string stream_config() const {
    const auto& s = self.settings_;
    // Deduplication is not used; keep its window (memory) small.
    double window = s.max_age_s > 0 ? std::min(1.0, s.max_age_s) : 1.0;
    std::string c = "{\"name\":" + proto::json_string(s.stream) + ",\"subjects\":[\"" + std::string(stored_wildcard) +
                    "\"],\"storage\":\"file\",\"retention\":\"limits\",\"discard\":\"old\",\"num_replicas\":" +
                    std::to_string(s.replicas) + ",\"max_age\":" + nanos(s.max_age_s) +
                    ",\"max_bytes\":" + (s.max_bytes ? std::to_string(s.max_bytes) : std::string("-1")) +
                    ",\"duplicate_window\":" + nanos(window) + ",\"allow_direct\":true," +
                    "\"republish\":{\"src\":\"" + std::string(stored_wildcard) + "\",\"dest\":\"" +
                    std::string(delivery_wildcard) + "\"}}";
    return c;
  }

  void create_stream() {
    auto t = expect(
        [this](natsMsg* m) {
          auto st = reader.read_stream_info(data_of(m));
          if (st.error && st.error->err_code == 10058) {
            ensure_stream();  // another node created it meanwhile
          } else if (st.error) {
            retry_stream(st.error->description);
          } else {
            util::log(util::log_level::info, "bus created history stream", {{"stream", self.settings_.stream}});
            set_stream(st);
          }
          return true;
        },
        [this] { retry_stream("stream create timed out"); }, ack_timeout * 4);
    request(api("STREAM.CREATE"), t, stream_config());
  }

  void set_stream(const stream_state& st) {
    auto e = epoch_of(self.settings_.stream, st.created);
    {
      std::lock_guard lock(epoch_mutex);
      if (!epoch || *epoch != e) {
        if (epoch) util::log(util::log_level::warn, "history stream was recreated: new epoch", {{"epoch", e}});
        epoch = std::make_shared<const std::string>(e);
        epoch_version.fetch_add(1, std::memory_order_release);
      }
    }
    if (!stream_ready) util::log(util::log_level::info, "bus history ready", {{"stream", self.settings_.stream}, {"epoch", e}});
    stream_ready = true;
    stream_timer.expires_after(stream_check_period);
    stream_timer.async_wait([this](boost::system::error_code ec) {
      if (!ec) ensure_stream();
    });
  }

  void retry_stream(const std::string& why) {
    if (stream_ready) util::log(util::log_level::warn, "bus history unavailable", {{"reason", why}});
    stream_ready = false;
    stream_timer.expires_after(std::chrono::seconds(1));
    stream_timer.async_wait([this](boost::system::error_code ec) {
      if (!ec) ensure_stream();
    });
  }

  // --- fleet membership -----------------------------------------------
  // "<node>\n<nonce>": the nonce tells two processes of one name apart.
  void send_heartbeat() {
    if (!self.connected_ || stopping) return;
    const auto beat = self.settings_.node + "\n" + nonce;
    natsConnection_Publish(nc, std::string(heartbeat_subject).c_str(), beat.data(), static_cast<int>(beat.size()));
  }

  void heartbeat_loop() {
    send_heartbeat();
    refresh_members();
    heartbeat_timer.expires_after(heartbeat_period);
    heartbeat_timer.async_wait([this](boost::system::error_code ec) {
      if (!ec) heartbeat_loop();
    });
  }

  bool name_clash_logged = false;

  void member_seen(std::string beat) {
    const auto nl = beat.find('\n');
    std::string name = beat.substr(0, nl);
    const std::string other = nl == std::string::npos ? std::string() : beat.substr(nl + 1);
    if (name == self.settings_.node) {
      // Counts are gathered per name: two nodes of one name would be one.
      if (other != nonce && !std::exchange(name_clash_logged, true)) {
        util::log(util::log_level::error, "another node uses this --node-name: fleet counts will be wrong",
                  {{"node", name}});
      }
      return;
    }
    // A newcomer learns about us at once instead of at our next beat.
    auto [it, added] = members.insert_or_assign(std::move(name), clock::now());
  if (added) {
    util::log(util::log_level::info, "fleet node seen", {{"node", it->first}});
    send_heartbeat();
    out->on_resync();
  }
    refresh_members();
  }

  void member_left(const std::string& name) {
    if (members.erase(name)) {
      util::log(util::log_level::info, "fleet node left", {{"node", name}});
      out->on_node_left(name);
    }
    refresh_members();
  }

  std::size_t refresh_members() {
    const auto now = clock::now();
    for (auto it = members.begin(); it != members.end();) {
      if (now - it->second <= member_ttl) {
        ++it;
        continue;
      }
      util::log(util::log_level::warn, "fleet node silent: no longer counted", {{"node", it->first}});
      out->on_node_left(it->first);
      it = members.erase(it);
    }
    self.fleet_nodes_ = members.size() + 1;
    return members.size() + 1;
  }

  // --- publish, history -----------------------------------------------
  void publish(std::string key, envelope env, std::string data, asio::any_io_executor back,
               std::function<void(publish_outcome)> done);
  void history(std::string key, std::optional<std::uint64_t> since, std::string epoch, std::size_t limit,
               asio::any_io_executor back, std::function<void(history_outcome)> done);
  void next_get(std::shared_ptr<history_op> op, std::uint64_t from);
  void finish_history(const std::shared_ptr<history_op>& op);
  void fail_history(const std::shared_ptr<history_op>& op);

  // --- NATS callbacks (NATS threads) ----------------------------------
  static void on_inbox_msg(natsConnection*, natsSubscription*, natsMsg* m, void* closure);
  static void on_delivery_msg(natsConnection*, natsSubscription*, natsMsg* m, void* closure);
  static void on_count_msg(natsConnection*, natsSubscription*, natsMsg* m, void* closure);
  static void on_presence_query_msg(natsConnection*, natsSubscription*, natsMsg* m, void* closure);
  static void on_heartbeat_msg(natsConnection*, natsSubscription*, natsMsg* m, void* closure);
  static void on_goodbye_msg(natsConnection*, natsSubscription*, natsMsg* m, void* closure);
  static void on_connected_cb(natsConnection*, void* closure);
  static void on_reconnected_cb(natsConnection*, void* closure);
  static void on_disconnected_cb(natsConnection*, void* closure);
  static void on_error_cb(natsConnection*, natsSubscription*, natsStatus s, void* closure);
  static void on_sub_complete(void* closure);

  void subscribe_fixed(std::string_view subject, natsMsgHandler cb) {
    natsSubscription* sub = nullptr;
    std::string subj(subject);
    if (natsConnection_Subscribe(&sub, nc, subj.c_str(), cb, this) != NATS_OK) {
      throw std::runtime_error("cannot subscribe to " + subj + ": " + nats_GetLastError(nullptr));
    }
    natsSubscription_SetPendingLimits(sub, 1 << 20, 256 << 20);
    natsSubscription_SetOnCompleteCB(sub, on_sub_complete, this);
    ++live_subs;
    fixed_subs.push_back(sub);
  }

  void connect();
};

struct nats_bus::impl::publish_op {
  publish_outcome out;
  asio::any_io_executor back;
  std::function<void(publish_outcome)> done;
  std::uint64_t ack_token = 0, count_token = 0;
  bool ack_done = false, count_done = false, failed = false, finished = false;
  std::size_t expected = 1;
  std::unordered_set<std::string> reported;
};

struct nats_bus::impl::history_op {
  history_outcome out;
  std::string key, subject;
  std::optional<std::uint64_t> since;
  std::string client_epoch;
  std::size_t limit = 0;
  int waiting = 2;
  bool finished = false;
  asio::any_io_executor back;
  std::function<void(history_outcome)> done;
};

void nats_bus::impl::publish(std::string key, envelope env, std::string data, asio::any_io_executor back,
                             std::function<void(publish_outcome)> done) {
  auto op = std::make_shared<publish_op>();
  op->back = std::move(back);
  op->done = std::move(done);
  auto finish = [this](const std::shared_ptr<publish_op>& op) {
    if (op->finished || !(op->failed || (op->ack_done && op->count_done))) return;
    op->finished = true;
    cancel(op->ack_token);
    cancel(op->count_token);
    if (op->out.stored && op->out.partial) ++self.counters_.partial_answers;
    asio::post(op->back, [op] { op->done(std::move(op->out)); });
  };
  auto fail = [finish](const std::shared_ptr<publish_op>& op, std::string why, std::atomic<std::uint64_t>& counter) {
    if (op->finished) return;
    ++counter;
    op->failed = true;
    op->out.stored = false;
    op->out.error = std::move(why);
    finish(op);
  };
  if (!self.connected_ || !stream_ready) {
    fail(op, self.connected_ ? "history stream not ready" : "bus disconnected",
         self.counters_.publish_failed_disconnected);
    return;
  }
  const auto id = nonce + "-" + std::to_string(next_id++);
  op->ack_token = expect(
      [this, op, fail, finish](natsMsg* m) {
        if (op->finished) return true;
        if (has_status(m, "503")) {
          fail(op, "history stream unavailable", self.counters_.publish_failed_rejected);
          return true;
        }
        auto ack = reader.read_pub_ack(data_of(m));
        if (ack.error) {
          fail(op, ack.error->description, self.counters_.publish_failed_rejected);
        } else {
          op->out.stored = true;
          op->out.offset = ack.seq;
          op->ack_done = true;
          finish(op);
        }
        return true;
      },
      [this, op, fail] { fail(op, "not confirmed stored in time", self.counters_.publish_failed_timeout); },
      ack_timeout);
  op->expected = refresh_members();
  op->count_token = expect(
      [op, finish](natsMsg* m) {
        if (op->finished) return true;
        auto body = data_of(m);
        auto space = body.rfind(' ');
        if (space == std::string_view::npos) return false;
        std::size_t n = 0;
        std::from_chars(body.data() + space + 1, body.data() + body.size(), n);
        if (op->reported.emplace(body.substr(0, space)).second) op->out.delivered += n;
        op->out.nodes = op->reported.size();
        if (op->reported.size() < op->expected) return false;
        op->count_done = true;
        finish(op);
        return true;
      },
      [op, finish] {
        if (op->finished) return;
        op->out.partial = true;
        op->count_done = true;
        finish(op);
      },
      ack_timeout);

  natsMsg* raw = nullptr;
  auto subject = stored_subject(key);
  natsMsg_Create(&raw, subject.c_str(), inbox(op->ack_token).c_str(), data.data(), static_cast<int>(data.size()));
  msg_handle m(raw, natsMsg_Destroy);
  const char kind[2] = {env.kind, 0};
  natsMsgHeader_Set(raw, "Herald-Kind", kind);
  natsMsgHeader_Set(raw, "Herald-Ts", std::to_string(env.ts_ms).c_str());
  natsMsgHeader_Set(raw, "Herald-Id", id.c_str());
  if (!env.from.empty()) natsMsgHeader_Set(raw, "Herald-From", env.from.c_str());
  if (!env.event.empty()) natsMsgHeader_Set(raw, "Herald-Event", env.event.c_str());
  if (natsConnection_PublishMsg(nc, raw) != NATS_OK) {
    fail(op, "bus disconnected", self.counters_.publish_failed_disconnected);
    return;
  }
  op->out.sent = true;
  // Sent after the publication on the same connection, so the server has
  // stored and republished it before any node sees this question.
  request(count_subject, op->count_token, id + "\n" + key_suffix(key));
}

// Hands a history read's outcome to its caller, once.
void nats_bus::impl::finish_history(const std::shared_ptr<history_op>& op) {
  if (op->finished) return;
  op->finished = true;
  asio::post(op->back, [op] { op->done(std::move(op->out)); });
}

// The bus could not answer it: the caller gets "not available".
void nats_bus::impl::fail_history(const std::shared_ptr<history_op>& op) {
  if (op->finished) return;
  ++self.counters_.history_failures;
  op->out = history_outcome{};
  finish_history(op);
}

void nats_bus::impl::history(std::string key, std::optional<std::uint64_t> since, std::string epoch,
                             std::size_t limit, asio::any_io_executor back,
                             std::function<void(history_outcome)> done) {
  auto op = std::make_shared<history_op>();
  op->client_epoch = std::move(epoch);
  op->subject = stored_subject(key);
  op->key = std::move(key);
  op->since = since;
  op->limit = limit;
  op->back = std::move(back);
  op->done = std::move(done);
  if (!self.connected_ || !stream_ready) {
    fail_history(op);
    return;
  }
  // Stream info (epoch, oldest kept sequence) and the key's last offset are
  // asked at once; the walk after `since` starts when both are in.
  auto step = [this](const std::shared_ptr<history_op>& op) {
    if (--op->waiting > 0 || op->finished) return;
    op->out.available = true;
    if (!op->client_epoch.empty() && op->client_epoch != op->out.epoch) {
      op->out.epoch_changed = true;
      op->since = 0;
    }
    if (op->since && *op->since < op->out.last && op->limit > 0) {
      next_get(op, *op->since + 1);
      return;
    }
    finish_history(op);
  };
  auto info = expect(
      [this, op, step](natsMsg* m) {
        if (op->finished) return true;
        auto st = reader.read_stream_info(data_of(m));
        if (st.error) {
          fail_history(op);
        } else {
          op->out.first_seq = st.first_seq;
          op->out.epoch = epoch_of(self.settings_.stream, st.created);
          step(op);
        }
        return true;
      },
      [this, op] { fail_history(op); }, ack_timeout);
  auto last = expect(
      [this, op, step](natsMsg* m) {
        if (op->finished) return true;
        if (has_status(m, "404")) {
          op->out.last = 0;
        } else if (!header(m, "Status").empty()) {
          fail_history(op);
          return true;
        } else {
          op->out.last = header_number<std::uint64_t>(m, "Nats-Sequence");
        }
        step(op);
        return true;
      },
      [this, op] { fail_history(op); }, ack_timeout);
  request(api("STREAM.INFO"), info, "");
  request(api("DIRECT.GET"), last, "{\"last_by_subj\":" + proto::json_string(op->subject) + "}");
}

void nats_bus::impl::next_get(std::shared_ptr<history_op> op, std::uint64_t from) {
  auto t = expect(
      [this, op](natsMsg* m) {
        if (op->finished) return true;
        if (!header(m, "Status").empty()) {  // 404: nothing further on this key
          finish_history(op);
          return true;
        }
        auto r = record_of(m, op->key);
        r.epoch = std::make_shared<const std::string>(op->out.epoch);
        const auto seq = r.offset;
        op->out.records.push_back(std::move(r));
        if (seq >= op->out.last) {
          finish_history(op);
        } else if (op->out.records.size() >= op->limit) {
          op->out.complete = false;
          finish_history(op);
        } else {
          next_get(op, seq + 1);
        }
        return true;
      },
      [this, op] { fail_history(op); }, ack_timeout);
  request(api("DIRECT.GET"), t,
          "{\"seq\":" + std::to_string(from) + ",\"next_by_subj\":" + proto::json_string(op->subject) + "}");
}

// --- NATS callbacks ------------------------------------------------------

void nats_bus::impl::on_inbox_msg(natsConnection*, natsSubscription*, natsMsg* m, void* closure) {
  auto* self = static_cast<impl*>(closure);
  std::string_view subject = natsMsg_GetSubject(m);
  std::uint64_t token = 0;
  auto tail = subject.substr(std::min(subject.size(), self->inbox_prefix.size()));
  std::from_chars(tail.data(), tail.data() + tail.size(), token);
  asio::post(self->ioc, [self, token, m] { self->on_inbox(token, m); });
}

void nats_bus::impl::on_delivery_msg(natsConnection*, natsSubscription*, natsMsg* raw, void* closure) {
  auto* self = static_cast<impl*>(closure);
  msg_handle m(raw, natsMsg_Destroy);
  if (self->stopping) return;
  auto key = key_of_subject(natsMsg_GetSubject(raw), delivery_prefix);
  if (!key) return;
  auto r = record_of(raw, std::move(*key));
  r.epoch = self->epoch_for_delivery();
  self->out->on_record(std::move(r));
}

void nats_bus::impl::on_count_msg(natsConnection*, natsSubscription*, natsMsg* raw, void* closure) {
  auto* self = static_cast<impl*>(closure);
  msg_handle m(raw, natsMsg_Destroy);
  const char* reply = natsMsg_GetReply(raw);
  if (self->stopping || reply == nullptr) return;
  auto body = data_of(raw);
  auto nl = body.find('\n');
  if (nl == std::string_view::npos) return;
  auto key = key_of_suffix(body.substr(nl + 1));
  if (!key) return;
  self->out->on_count_query(std::move(*key), std::string(body.substr(0, nl)), reply);
}

void nats_bus::impl::on_presence_query_msg(natsConnection*, natsSubscription*, natsMsg* raw, void* closure) {
  auto* self = static_cast<impl*>(closure);
  msg_handle m(raw, natsMsg_Destroy);
  const char* reply = natsMsg_GetReply(raw);
  if (self->stopping || reply == nullptr) return;
  auto key = key_of_suffix(data_of(raw));
  if (key) self->out->on_presence_query(std::move(*key), reply);
}

void nats_bus::impl::on_heartbeat_msg(natsConnection*, natsSubscription*, natsMsg* raw, void* closure) {
  auto* self = static_cast<impl*>(closure);
  std::string name(data_of(raw));
  natsMsg_Destroy(raw);
  asio::post(self->ioc, [self, name = std::move(name)]() mutable { self->member_seen(std::move(name)); });
}

void nats_bus::impl::on_goodbye_msg(natsConnection*, natsSubscription*, natsMsg* raw, void* closure) {
  auto* self = static_cast<impl*>(closure);
  std::string name(data_of(raw));
  natsMsg_Destroy(raw);
  asio::post(self->ioc, [self, name = std::move(name)] { self->member_left(name); });
}

void nats_bus::impl::on_connected_cb(natsConnection*, void* closure) {
  auto* self = static_cast<impl*>(closure);
  asio::post(self->ioc, [self] { self->on_connected(false); });
}

void nats_bus::impl::on_reconnected_cb(natsConnection*, void* closure) {
  auto* self = static_cast<impl*>(closure);
  asio::post(self->ioc, [self] { self->on_connected(true); });
}

void nats_bus::impl::on_disconnected_cb(natsConnection*, void* closure) {
  auto* self = static_cast<impl*>(closure);
  asio::post(self->ioc, [self] { self->on_disconnected(); });
}

void nats_bus::impl::on_error_cb(natsConnection*, natsSubscription*, natsStatus s, void* closure) {
  auto* self = static_cast<impl*>(closure);
  if (s == NATS_SLOW_CONSUMER) {
    // Messages were dropped for a subscription: counted; the log says it once.
    if (self->self.counters_.slow_consumer_errors++ == 0) {
      util::log(util::log_level::error, "bus slow consumer: messages from NATS were dropped");
    }
    return;
  }
  util::log(util::log_level::warn, "bus error", {{"status", natsStatus_GetText(s)}});
}

void nats_bus::impl::on_sub_complete(void* closure) { --static_cast<impl*>(closure)->live_subs; }

void nats_bus::impl::connect() {
  const auto& s = self.settings_;
  open_library();
  natsOptions_Create(&opts);
  std::vector<const char*> urls;
  for (const auto& u : s.urls) urls.push_back(u.c_str());
  // SetServers, not a comma-separated URL: the latter is taken as one bad URL.
  natsOptions_SetServers(opts, urls.data(), static_cast<int>(urls.size()));
  natsOptions_SetName(opts, s.node.c_str());
  natsOptions_SetMaxReconnect(opts, -1);
  natsOptions_SetReconnectWait(opts, 250);
  natsOptions_SetReconnectJitter(opts, 100, 1000);
  natsOptions_SetReconnectBufSize(opts, 8 << 20);
  natsOptions_SetPingInterval(opts, 2000);
  natsOptions_SetMaxPingsOut(opts, 2);
  natsOptions_SetTimeout(opts, 1000);
  natsOptions_SetSendAsap(opts, true);  // the default flusher waits up to 1 ms per message
  natsOptions_UseGlobalMessageDelivery(opts, true);
  natsOptions_SetDisconnectedCB(opts, on_disconnected_cb, this);
  natsOptions_SetReconnectedCB(opts, on_reconnected_cb, this);
  natsOptions_SetErrorHandler(opts, on_error_cb, this);
  natsOptions_SetRetryOnFailedConnect(opts, true, on_connected_cb, this);
  auto st = natsConnection_Connect(&nc, opts);
  if (st != NATS_OK && st != NATS_NOT_YET_CONNECTED) {
    throw std::runtime_error(std::string("cannot start the NATS client: ") + natsStatus_GetText(st));
  }
  subscribe_fixed(inbox_prefix + "*", on_inbox_msg);
  subscribe_fixed(count_subject, on_count_msg);
  subscribe_fixed(presence_query_subject, on_presence_query_msg);
  subscribe_fixed(heartbeat_subject, on_heartbeat_msg);
  subscribe_fixed(goodbye_subject, on_goodbye_msg);
  if (st == NATS_OK) asio::post(ioc, [this] { on_connected(false); });
  else util::log(util::log_level::warn, "bus not reachable yet; retrying", {{"node", s.node}});
}

// --- nats_bus ------------------------------------------------------------

nats_bus::nats_bus(settings s) : settings_(std::move(s)), impl_(std::make_unique<impl>(*this)) {
  impl_->ack_timeout = std::chrono::nanoseconds(static_cast<std::int64_t>(settings_.ack_timeout_s * 1e9));
}

nats_bus::~nats_bus() { stop(); }

void nats_bus::start(sink& s) {
  impl_->out = &s;
  impl_->connect();
  impl_->thread = std::thread([this] { impl_->ioc.run(); });
  asio::post(impl_->ioc, [this] { impl_->heartbeat_loop(); });
}

void nats_bus::stop() {
  auto& d = *impl_;
  if (d.stopped || d.nc == nullptr) return;
  d.stopped = true;
  if (connected_) {
    natsConnection_Publish(d.nc, std::string(goodbye_subject).c_str(), settings_.node.data(),
                           static_cast<int>(settings_.node.size()));
    natsConnection_FlushTimeout(d.nc, 500);
  }
  d.stopping = true;
  natsConnection_Close(d.nc);
  // Closing ends every subscription; wait (bounded) for their last callbacks.
  for (int i = 0; i < 200 && d.live_subs.load() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  d.work.reset();
  d.ioc.stop();
  if (d.thread.joinable()) d.thread.join();
  d.pendings.clear();
  for (auto* sub : d.fixed_subs) natsSubscription_Destroy(sub);
  d.fixed_subs.clear();
  natsConnection_Destroy(d.nc);
  natsOptions_Destroy(d.opts);
  connected_ = false;
}

std::shared_ptr<const std::string> nats_bus::epoch() const {
  std::lock_guard lock(impl_->epoch_mutex);
  return impl_->epoch;
}

void* nats_bus::listen(const std::string& key) {
  natsSubscription* sub = nullptr;
  auto subject = delivery_subject(key);
  if (natsConnection_Subscribe(&sub, impl_->nc, subject.c_str(), impl::on_delivery_msg, impl_.get()) != NATS_OK) {
    util::log(util::log_level::error, "bus cannot subscribe", {{"error", nats_GetLastError(nullptr)}});
    return nullptr;
  }
  natsSubscription_SetOnCompleteCB(sub, impl::on_sub_complete, impl_.get());
  ++impl_->live_subs;
  return sub;
}

void nats_bus::unlisten(void* handle) {
  if (handle == nullptr) return;
  auto* sub = static_cast<natsSubscription*>(handle);
  natsSubscription_Unsubscribe(sub);
  natsSubscription_Destroy(sub);
}

void nats_bus::barrier(asio::any_io_executor back, std::function<void()> done) {
  asio::post(impl_->ioc, [this, back = std::move(back), done = std::move(done)]() mutable {
    auto& d = *impl_;
    if (!connected_) {
      asio::post(back, std::move(done));
      return;
    }
    auto shared = std::make_shared<std::function<void()>>(std::move(done));
    auto t = d.expect(
        [back, shared](natsMsg*) {
          asio::post(back, *shared);
          return true;
        },
        [back, shared] { asio::post(back, *shared); }, d.ack_timeout);
    natsConnection_Publish(d.nc, d.inbox(t).c_str(), nullptr, 0);
  });
}

void nats_bus::publish(std::string key, envelope env, std::string data, asio::any_io_executor back,
                       std::function<void(publish_outcome)> done) {
  asio::post(impl_->ioc, [this, key = std::move(key), env = std::move(env), data = std::move(data),
                          back = std::move(back), done = std::move(done)]() mutable {
    impl_->publish(std::move(key), std::move(env), std::move(data), std::move(back), std::move(done));
  });
}

void nats_bus::history(std::string key, std::optional<std::uint64_t> since, std::string epoch, std::size_t limit,
                       asio::any_io_executor back, std::function<void(history_outcome)> done) {
  asio::post(impl_->ioc, [this, key = std::move(key), since, epoch = std::move(epoch), limit, back = std::move(back),
                          done = std::move(done)]() mutable {
    impl_->history(std::move(key), since, std::move(epoch), limit, std::move(back), std::move(done));
  });
}

void nats_bus::reply(const std::string& to, const std::string& body) {
  natsConnection_Publish(impl_->nc, to.c_str(), body.data(), static_cast<int>(body.size()));
}

void nats_bus::presence_event(const std::string& key, const std::string& user, bool join) {
  if (!connected_) return;  // lost; fleet_presence heals at the next listen or node change
  natsMsg* raw = nullptr;
  auto subject = delivery_subject(key);
  natsMsg_Create(&raw, subject.c_str(), nullptr, nullptr, 0);
  msg_handle m(raw, natsMsg_Destroy);
  natsMsgHeader_Set(raw, "Herald-Kind", join ? "j" : "l");
  natsMsgHeader_Set(raw, "Herald-From", user.c_str());
  natsMsgHeader_Set(raw, "Herald-Node", settings_.node.c_str());
  natsConnection_PublishMsg(impl_->nc, raw);
}

namespace {

// "<node>\n<connections>\n<user>\n<user>..."
presence_answer read_presence_answer(std::string_view body) {
  presence_answer a;
  std::size_t line = 0;
  while (!body.empty()) {
    auto nl = body.find('\n');
    auto part = body.substr(0, nl);
    if (line == 0) {
      a.node = std::string(part);
    } else if (line == 1) {
      std::from_chars(part.data(), part.data() + part.size(), a.connections);
    } else if (!part.empty()) {
      a.users.emplace_back(part);
    }
    ++line;
    body = nl == std::string_view::npos ? std::string_view() : body.substr(nl + 1);
  }
  return a;
}

}  // namespace

void nats_bus::presence_query(std::string key, asio::any_io_executor back,
                              std::function<void(std::vector<presence_answer>, bool)> done) {
  asio::post(impl_->ioc, [this, key = std::move(key), back = std::move(back), done = std::move(done)]() mutable {
    auto& d = *impl_;
    struct op_t {
      std::vector<presence_answer> answers;
      std::unordered_set<std::string> nodes;
      std::size_t expected = 1;
      bool finished = false;
      asio::any_io_executor back;
      std::function<void(std::vector<presence_answer>, bool)> done;
    };
    auto op = std::make_shared<op_t>();
    op->back = std::move(back);
    op->done = std::move(done);
    auto finish = [](const std::shared_ptr<op_t>& op, bool partial) {
      op->finished = true;
      asio::post(op->back, [op, partial] { op->done(std::move(op->answers), partial); });
    };
    if (!connected_) {
      finish(op, true);
      return;
    }
    op->expected = d.refresh_members();
    auto t = d.expect(
        [op, finish](natsMsg* m) {
          if (op->finished) return true;
          auto a = read_presence_answer(data_of(m));
          if (op->nodes.insert(a.node).second) op->answers.push_back(std::move(a));
          if (op->nodes.size() < op->expected) return false;
          finish(op, false);
          return true;
        },
        [op, finish] {
          if (!op->finished) finish(op, true);
        },
        d.ack_timeout);
    d.request(presence_query_subject, t, key_suffix(key));
  });
}

}  // namespace herald::bus
