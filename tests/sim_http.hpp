#pragma once

// A tiny blocking HTTP/1.1 client over POSIX sockets for the sim tests: it
// sees the exact bytes the server sends (no Beast in the tests).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cctype>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace llmmr::sim::test {

/// One parsed response.
struct http_reply {
  /// Status code, 0 when nothing arrived.
  int status = 0;
  /// Header fields, names in lower case.
  std::map<std::string, std::string> headers;
  /// The body (chunked bodies decoded).
  std::string body;
  /// The body exactly as received (chunk framing included).
  std::string raw_body;
  /// True when the body was complete (length reached or last chunk seen).
  bool complete = false;
  /// True when the server closed the connection.
  bool closed = false;
};

/// A blocking connection to 127.0.0.1:port.
class http_conn {
public:
  explicit http_conn(uint16_t port, int timeout_ms = 15000) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }

  ~http_conn() {
    if (fd_ >= 0)
      ::close(fd_);
  }

  http_conn(const http_conn&) = delete;
  http_conn& operator=(const http_conn&) = delete;

  bool ok() const { return ok_; }

  /// Sends a request; `extra` is raw header lines ending in CRLF.
  void send(const std::string& method, const std::string& target,
            const std::string& body = {}, const std::string& extra = {}) {
    std::string req
      = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra;
    if (!body.empty() || method == "POST")
      req += "Content-Type: application/json\r\nContent-Length: "
             + std::to_string(body.size()) + "\r\n";
    req += "\r\n" + body;
    size_t off = 0;
    while (off < req.size()) {
      auto n = ::send(fd_, req.data() + off, req.size() - off, MSG_NOSIGNAL);
      if (n <= 0)
        return;
      off += static_cast<size_t>(n);
    }
  }

  /// Reads one response.
  http_reply read() {
    http_reply r;
    size_t head_end;
    while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill(r))
        return r;
    parse_head(buf_.substr(0, head_end), r);
    buf_.erase(0, head_end + 4);
    if (r.headers.count("content-length")) {
      auto len = std::stoul(r.headers["content-length"]);
      while (buf_.size() < len && fill(r)) {
      }
      auto n = std::min<size_t>(len, buf_.size());
      r.body = buf_.substr(0, n);
      r.raw_body = r.body;
      buf_.erase(0, n);
      r.complete = n == len;
      return r;
    }
    if (r.headers["transfer-encoding"] == "chunked") {
      for (;;) {
        size_t eol;
        while ((eol = buf_.find("\r\n")) == std::string::npos)
          if (!fill(r))
            return r;
        auto size = std::stoul(buf_.substr(0, eol), nullptr, 16);
        while (buf_.size() < eol + 2 + size + 2)
          if (!fill(r))
            return r;
        r.raw_body += buf_.substr(0, eol + 2 + size + 2);
        r.body += buf_.substr(eol + 2, size);
        buf_.erase(0, eol + 2 + size + 2);
        if (size == 0) {
          r.complete = true;
          return r;
        }
      }
    }
    while (fill(r)) {
    }
    r.body = buf_;
    r.raw_body = buf_;
    buf_.clear();
    return r;
  }

  /// Waits until the server closes the connection; returns false on timeout.
  bool wait_closed() {
    char tmp[256];
    for (;;) {
      auto n = ::recv(fd_, tmp, sizeof(tmp), 0);
      if (n == 0)
        return true;
      if (n < 0)
        return errno == ECONNRESET;
    }
  }

private:
  bool fill(http_reply& r) {
    char tmp[4096];
    auto n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) {
      r.closed = true;
      return false;
    }
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

  static void parse_head(const std::string& head, http_reply& r) {
    auto eol = head.find("\r\n");
    auto status_line = head.substr(0, eol);
    if (status_line.size() >= 12)
      r.status = std::stoi(status_line.substr(9, 3));
    size_t pos = eol == std::string::npos ? head.size() : eol + 2;
    while (pos < head.size()) {
      auto next = head.find("\r\n", pos);
      if (next == std::string::npos)
        next = head.size();
      auto line = head.substr(pos, next - pos);
      auto colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (auto& c : name)
          c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        auto value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ')
          value.erase(0, 1);
        r.headers[name] = value;
      }
      pos = next + 2;
    }
  }

  int fd_ = -1;
  bool ok_ = false;
  std::string buf_;
};

/// Sends one request on a fresh connection and reads the reply.
inline http_reply http_call(uint16_t port, const std::string& method,
                            const std::string& target,
                            const std::string& body = {},
                            const std::string& extra = {}) {
  http_conn conn{port};
  conn.send(method, target, body, extra);
  return conn.read();
}

} // namespace llmmr::sim::test
