// examples/minivmm/char_drivers.hpp - minivmm's serial stack: Char over a stream driver.
//
// Char is the char layer: the serial port's transmitter hands it bytes on the EMT, and its I/O
// thread (a pdm driver thread, suspended and resumed with the VM) sends them to the stream below
// and waits for input, which it passes to the EMT through a pdm queue; the queue's consumer gives
// the bytes to the serial port. Bytes not sent yet are saved state.
//
// The stream drivers: TCP (a listening or connecting socket on an IPv4 address), UnixSocket (the
// same over a Unix-domain socket) and RawFile (output into a file, no input). Each waits in poll()
// on its data and on an eventfd that interrupt() signals, so the thread wakes at once when the VM
// suspends or the Char driver has bytes to send.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <pdm/config/binding.hpp>
#include <pdm/driver/context.hpp>
#include <pdm/driver/interface.hpp>
#include <pdm/driver/traits.hpp>
#include <pdm/services/hub.hpp>
#include <pdm/services/thread.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "interfaces.hpp"
#include "storage_drivers.hpp"  // host_error

namespace minivmm {

/// A file descriptor, closed with its owner.
class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd() { reset(); }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  [[nodiscard]] int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

namespace detail {

// What every stream driver shares: the wake-up eventfd, and a connection socket (with, for a
// server, the listening socket it accepts from). Only the Char driver's I/O thread reads and
// writes; interrupt() may come from any thread.
class stream_base : public stream {
 public:
  std::size_t read(std::span<std::byte> out, std::chrono::milliseconds timeout) override {
    if (!wait_input(conn_ ? conn_.get() : listen_.get(), timeout)) return 0;
    if (!conn_) {
      accept_pending();
      return 0;
    }
    const ssize_t got = ::recv(conn_.get(), out.data(), out.size(), MSG_DONTWAIT);
    if (got > 0) return static_cast<std::size_t>(got);
    if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) conn_.reset();  // the peer left
    return 0;
  }
  bool write(std::span<const std::byte> in) override {
    if (!conn_) accept_pending();
    if (!conn_) return false;
    for (std::size_t done = 0; done < in.size();) {
      const ssize_t n = ::send(conn_.get(), in.data() + done, in.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        done += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        pollfd p{.fd = conn_.get(), .events = POLLOUT, .revents = 0};
        if (::poll(&p, 1, 1000) > 0) continue;
      }
      conn_.reset();
      return false;
    }
    return true;
  }
  void interrupt() override {
    const std::uint64_t one = 1;
    (void)!::write(wake_.get(), &one, sizeof one);
  }
  [[nodiscard]] std::string endpoint() const override { return endpoint_; }

 protected:
  explicit stream_base(pdm::driver_context& ctx) : wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (!wake_) {
      const int code = errno;
      ctx.fail(host_error("cannot make an eventfd", code));
    }
  }
  /// False when the constructor failed (the derived constructor then returns at once).
  [[nodiscard]] bool ready() const noexcept { return static_cast<bool>(wake_); }
  ~stream_base() = default;
  stream_base(const stream_base&) = delete;
  stream_base& operator=(const stream_base&) = delete;
  stream_base(stream_base&&) = delete;
  stream_base& operator=(stream_base&&) = delete;

  // Waits up to `timeout` for `data` (none if negative) to be readable or for interrupt();
  // true when `data` is readable.
  bool wait_input(int data, std::chrono::milliseconds timeout) {
    std::array<pollfd, 2> fds{};
    fds[0] = pollfd{.fd = wake_.get(), .events = POLLIN, .revents = 0};
    fds[1] = pollfd{.fd = data, .events = POLLIN, .revents = 0};
    const nfds_t n = data >= 0 ? 2 : 1;
    if (::poll(fds.data(), n, static_cast<int>(timeout.count())) <= 0) return false;
    if ((fds[0].revents & POLLIN) != 0) {
      std::uint64_t count = 0;
      (void)!::read(wake_.get(), &count, sizeof count);
    }
    return n == 2 && fds[1].revents != 0;
  }
  // Binds and listens (server) or connects (client) a socket of `family` to `address`.
  bool open_socket(pdm::driver_context& ctx, int family, const sockaddr* address, socklen_t length,
                   const std::string& where, bool server) {
    const auto failed = [&](const char* what) {
      const int code = errno;  // before anything else may change it
      ctx.fail(host_error(what + where, code));
      return false;
    };
    unique_fd s(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!s) return failed("cannot make a socket for ");
    if (server) {
      const int yes = 1;
      if (family == AF_INET) (void)::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
      if (::bind(s.get(), address, length) != 0 || ::listen(s.get(), 4) != 0) return failed("cannot listen on ");
      listen_ = std::move(s);
    } else {
      if (::connect(s.get(), address, length) != 0) return failed("cannot connect to ");
      conn_ = std::move(s);
    }
    return true;
  }
  unique_fd& connection() noexcept { return conn_; }
  [[nodiscard]] int listener() const noexcept { return listen_.get(); }
  void set_endpoint(std::string e) { endpoint_ = std::move(e); }

 private:
  void accept_pending() {
    if (!listen_) return;
    pollfd p{.fd = listen_.get(), .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, 0) <= 0) return;
    conn_.reset(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  }
  unique_fd wake_;
  unique_fd listen_;
  unique_fd conn_;
  std::string endpoint_;
};

}  // namespace detail

// TCP ----------------------------------------------------------------------------------------------

struct tcp_config {
  std::string location;
  bool is_server = false;

  static constexpr pdm::config_field config_fields[] = {
      {.member = "location",
       .description = "IPv4 address and port, `127.0.0.1:5023`; port 0 in a server picks a free one",
       .required = true},
      {.member = "is_server", .description = "Listen and accept one peer at a time (else connect)"},
  };
};

class tcp_stream final : public detail::stream_base {
 public:
  static constexpr pdm::driver_traits traits{.name = "TCP",
                                             .description = "Byte stream over TCP/IPv4, server or client",
                                             .class_mask = pdm::driver_class::stream,
                                             .max_instances = 16};
  using provides = pdm::interface_list<stream>;
  using config_type = tcp_config;

  tcp_stream(pdm::driver_context& ctx, const config_type& config) : stream_base(ctx) {
    if (!ready()) return;
    sockaddr_in address{};
    address.sin_family = AF_INET;
    const std::size_t colon = config.location.rfind(':');
    std::string_view host = std::string_view(config.location).substr(0, colon);
    if (host == "localhost") host = "127.0.0.1";
    unsigned port = 0;
    const char* port_text = config.location.c_str() + (colon == std::string::npos ? 0 : colon + 1);
    const char* end = config.location.c_str() + config.location.size();
    const auto parsed = std::from_chars(port_text, end, port);
    if (colon == std::string::npos || parsed.ec != std::errc{} || parsed.ptr != end || port > 65535 ||
        ::inet_pton(AF_INET, std::string(host).c_str(), &address.sin_addr) != 1) {
      ctx.fail(pdm::error(pdm::errc::invalid_value,
                          "Location '" + config.location + "' is not an IPv4 address and port (127.0.0.1:5023)"));
      return;
    }
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    const std::string where = "tcp " + config.location;
    if (!open_socket(ctx, AF_INET, reinterpret_cast<const sockaddr*>(&address), sizeof address, where,
                     config.is_server)) {
      return;
    }
    if (config.is_server) {
      socklen_t length = sizeof address;
      (void)::getsockname(listener(), reinterpret_cast<sockaddr*>(&address), &length);
      set_endpoint("tcp " + std::string(host) + ":" + std::to_string(ntohs(address.sin_port)) + " (listening)");
    } else {
      set_endpoint(where);
    }
  }
};

// UnixSocket ---------------------------------------------------------------------------------------

struct unix_socket_config {
  std::string path;
  bool is_server = false;

  static constexpr pdm::config_field config_fields[] = {
      {.member = "path", .description = "The socket's file name", .required = true},
      {.member = "is_server", .description = "Listen (replacing a stale socket file) and accept one peer at a time"},
  };
};

class unix_socket_stream final : public detail::stream_base {
 public:
  static constexpr pdm::driver_traits traits{.name = "UnixSocket",
                                             .description = "Byte stream over a Unix-domain socket",
                                             .class_mask = pdm::driver_class::stream,
                                             .max_instances = 16};
  using provides = pdm::interface_list<stream>;
  using config_type = unix_socket_config;

  unix_socket_stream(pdm::driver_context& ctx, const config_type& config) : stream_base(ctx), path_(config.path) {
    if (!ready()) return;
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (config.path.empty() || config.path.size() >= sizeof address.sun_path) {
      ctx.fail(pdm::error(pdm::errc::invalid_value, "socket path '" + config.path + "' is empty or longer than " +
                                                        std::to_string(sizeof address.sun_path - 1) + " bytes"));
      return;
    }
    std::memcpy(address.sun_path, config.path.data(), config.path.size());
    if (config.is_server) {
      struct stat st {};
      if (::lstat(config.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(config.path.c_str());  // stale
    }
    if (!open_socket(ctx, AF_UNIX, reinterpret_cast<const sockaddr*>(&address), sizeof address,
                     "unix socket '" + config.path + "'", config.is_server)) {
      return;
    }
    server_ = config.is_server;
    set_endpoint("unix " + config.path + (server_ ? " (listening)" : ""));
  }
  ~unix_socket_stream() {
    if (server_) ::unlink(path_.c_str());
  }
  unix_socket_stream(const unix_socket_stream&) = delete;
  unix_socket_stream& operator=(const unix_socket_stream&) = delete;
  unix_socket_stream(unix_socket_stream&&) = delete;
  unix_socket_stream& operator=(unix_socket_stream&&) = delete;

 private:
  std::string path_;
  bool server_ = false;
};

// RawFile ------------------------------------------------------------------------------------------

struct raw_file_config {
  std::string path;
  bool append = false;

  static constexpr pdm::config_field config_fields[] = {
      {.member = "path", .description = "The file the output goes to", .required = true},
      {.member = "append", .description = "Append to the file (else it is truncated)"},
  };
};

class raw_file_stream final : public detail::stream_base {
 public:
  static constexpr pdm::driver_traits traits{.name = "RawFile",
                                             .description = "Output-only byte stream into a file",
                                             .class_mask = pdm::driver_class::stream,
                                             .max_instances = 16};
  using provides = pdm::interface_list<stream>;
  using config_type = raw_file_config;

  raw_file_stream(pdm::driver_context& ctx, const config_type& config) : stream_base(ctx) {
    if (!ready()) return;
    connection().reset(
        ::open(config.path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (config.append ? O_APPEND : O_TRUNC), 0644));
    if (!connection()) {
      const int code = errno;
      ctx.fail(host_error("cannot open output file '" + config.path + "'", code));
      return;
    }
    set_endpoint("file " + config.path);
  }
  // A file has no input: wait for an interrupt or the timeout.
  std::size_t read(std::span<std::byte> /*out*/, std::chrono::milliseconds timeout) override {
    (void)wait_input(-1, timeout);
    return 0;
  }
  bool write(std::span<const std::byte> in) override {
    for (std::size_t done = 0; done < in.size();) {
      const ssize_t n = ::write(connection().get(), in.data() + done, in.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  }
};

// Char ---------------------------------------------------------------------------------------------

struct char_config {
  std::uint32_t queue_items = 64;
  std::uint32_t max_pending = 65536;

  static constexpr pdm::config_field config_fields[] = {
      {.member = "queue_items",
       .description = "Received chunks the I/O thread may queue for the EMT",
       .min = 2,
       .max = 4096},
      {.member = "max_pending", .description = "Bytes waiting to be sent at most; more are dropped", .min = 1},
  };
};

class char_layer final : public char_device {
 public:
  static constexpr pdm::driver_traits traits{.name = "Char",
                                             .description = "Char device with an I/O thread over a stream",
                                             .class_mask = pdm::driver_class::character,
                                             .max_instances = 16};
  using provides = pdm::interface_list<char_device>;
  using needs_below = pdm::interface_list<stream>;
  using needs_above = pdm::interface_list<char_port>;
  using config_type = char_config;

  /// Bytes the guest sent that the thread has not written yet, and the counters.
  struct saved_state {
    std::vector<std::uint8_t> pending;
    std::uint64_t bytes_sent = 0;
    std::uint64_t bytes_received = 0;
    std::uint64_t bytes_dropped = 0;
  };
  static constexpr std::uint32_t saved_state_version = 1;
  saved_state& saved() { return state_; }

  char_layer(pdm::driver_context& ctx, const config_type& config) : max_pending_(config.max_pending) {
    port_ = ctx.above().query<char_port>();  // not null: needs_above was checked
    pdm::result<pdm::driver_ref> below = ctx.attach();
    if (!below) {
      ctx.fail(below.error_value());
      return;
    }
    stream_ = below->query<stream>();
    pdm::result<pdm::queue<chunk>> q = ctx.create_queue<chunk>(
        config.queue_items, std::chrono::nanoseconds(0), [this](chunk& c) { return deliver(c); }, "Received");
    if (!q) {
      ctx.fail(q.error_value());
      return;
    }
    received_ = std::move(*q);
    // Owned by the instance: joined before the destructor runs.
    pdm::result<pdm::driver_thread> t = ctx.create_thread(
        "io", [this](pdm::thread_control& self) { io_loop(self); }, [this] { stream_->interrupt(); });
    if (!t) {
      ctx.fail(t.error_value());
      return;
    }
    if (auto c = ctx.add_counter("BytesSent", pdm::stat_unit::bytes, "Bytes written to the stream")) sent_stat_ = *c;
    if (auto c = ctx.add_counter("BytesReceived", pdm::stat_unit::bytes, "Bytes read from the stream")) {
      received_stat_ = *c;
    }
  }

  bool send(std::span<const std::byte> bytes) override {
    {
      const std::lock_guard<std::mutex> hold(lock_);
      if (state_.pending.size() + bytes.size() > max_pending_) {
        state_.bytes_dropped += bytes.size();
        return false;
      }
      const auto* first = reinterpret_cast<const std::uint8_t*>(bytes.data());
      state_.pending.insert(state_.pending.end(), first, first + bytes.size());
    }
    stream_->interrupt();
    return true;
  }
  [[nodiscard]] char_counters counters() const override {
    const std::lock_guard<std::mutex> hold(lock_);
    return char_counters{state_.bytes_sent, state_.bytes_received, state_.bytes_dropped};
  }

 private:
  struct chunk {
    std::array<std::byte, 256> bytes{};
    std::size_t size = 0;
  };

  // On the EMT: hands received bytes to the serial port.
  bool deliver(chunk& c) {
    port_->received(std::span<const std::byte>(c.bytes.data(), c.size));
    const std::lock_guard<std::mutex> hold(lock_);
    state_.bytes_received += c.size;
    return true;
  }

  // The I/O thread: send what is pending, then wait briefly for input and queue it for the EMT.
  void io_loop(pdm::thread_control& self) {
    std::vector<std::uint8_t> out;
    chunk in;
    while (self.running()) {
      {
        const std::lock_guard<std::mutex> hold(lock_);
        out.swap(state_.pending);
      }
      if (!out.empty()) {
        const bool sent = stream_->write(std::as_bytes(std::span(out)));
        const std::lock_guard<std::mutex> hold(lock_);
        (sent ? state_.bytes_sent : state_.bytes_dropped) += out.size();
        if (sent && sent_stat_ != nullptr) sent_stat_->add(out.size());
        out.clear();
      }
      in.size = stream_->read(in.bytes, std::chrono::milliseconds(100));
      if (in.size == 0) continue;
      if (received_stat_ != nullptr) received_stat_->add(in.size);
      // A full queue means the EMT is behind: wait for room (a suspend or terminate ends the wait).
      while (received_.try_emplace(in) == pdm::errc::queue_full && self.running()) {
        (void)self.sleep(std::chrono::milliseconds(1));
      }
    }
  }

  char_port* port_ = nullptr;
  stream* stream_ = nullptr;
  std::size_t max_pending_;
  pdm::queue<chunk> received_;
  mutable std::mutex lock_;
  saved_state state_;
  pdm::stat_counter* sent_stat_ = nullptr;
  pdm::stat_counter* received_stat_ = nullptr;
};

/// Every driver minivmm registers.
using drivers =
    pdm::driver_list<block_layer, trace, raw_image, char_layer, tcp_stream, unix_socket_stream, raw_file_stream>;

}  // namespace minivmm

BOOST_HANA_ADAPT_STRUCT(minivmm::tcp_config, location, is_server);
BOOST_HANA_ADAPT_STRUCT(minivmm::unix_socket_config, path, is_server);
BOOST_HANA_ADAPT_STRUCT(minivmm::raw_file_config, path, append);
BOOST_HANA_ADAPT_STRUCT(minivmm::char_config, queue_items, max_pending);
