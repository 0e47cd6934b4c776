#include "worker_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>

extern char** environ;

namespace herald_bench {

namespace asio = boost::asio;

namespace {

void make_pipe(int fds[2]) {
  // O_CLOEXEC: no worker should inherit the pipes of its siblings.
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string{"pipe2: "} + std::strerror(errno));
}

pid_t spawn_child(const std::vector<std::string>& argv, int stdin_fd, int stdout_fd) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, stdin_fd, STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, stdout_fd, STDOUT_FILENO);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error(std::string{"posix_spawn: "} + std::strerror(rc));
  return pid;
}

}  // namespace

worker_process::worker_process(asio::io_context& ctx, const std::vector<std::string>& argv)
    : out_(ctx) {
  int to_child[2], from_child[2];
  make_pipe(to_child);
  make_pipe(from_child);
  pid_ = spawn_child(argv, to_child[0], from_child[1]);
  ::close(to_child[0]);
  ::close(from_child[1]);
  in_fd_ = to_child[1];
  out_.assign(from_child[0]);
}

worker_process::~worker_process() {
  if (in_fd_ >= 0) ::close(in_fd_);
  if (!reaped_) {
    kill_now();
    wait();
  }
}

asio::awaitable<std::optional<std::string>> worker_process::read_line() {
  auto [ec, n] = co_await asio::async_read_until(out_, buffer_, '\n', asio::as_tuple(asio::use_awaitable));
  if (ec) co_return std::nullopt;
  std::string line(asio::buffers_begin(buffer_.data()), asio::buffers_begin(buffer_.data()) + n - 1);
  buffer_.consume(n);
  co_return line;
}

void worker_process::send(std::string_view line) {
  std::string text{line};
  text += '\n';
  std::size_t done = 0;
  while (done < text.size()) {
    const auto n = ::write(in_fd_, text.data() + done, text.size() - done);
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

int worker_process::wait() {
  if (reaped_) return 0;
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

void worker_process::kill_now() {
  if (!reaped_ && pid_ > 0) ::kill(pid_, SIGKILL);
}

}  // namespace herald_bench
