#ifndef CIRCUIT_TESTS_INTEGRATION_HTTP_HARNESS_H_
#define CIRCUIT_TESTS_INTEGRATION_HTTP_HARNESS_H_

// Plain HTTP clients for circuitd's HTTP listener in tests: one request on a
// connection of its own, raw bytes, and an event stream read as it comes.

#include <cctype>
#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "boost/asio/connect.hpp"
#include "boost/asio/ip/tcp.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "gtest/gtest.h"

namespace circuit::testing {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;

struct Reply {
  int status = 0;
  std::string content_type;
  std::string body;
  std::string content_security_policy;
  std::string content_disposition;
  // Every header, by lower-case name (FetchWith only).
  std::map<std::string, std::string> headers;
};

// The string value of JSON field `name` in `text` (its first occurrence).
inline std::string JsonField(const std::string& text, const std::string& name) {
  const std::string key = "\"" + name + "\":\"";
  const size_t at = text.find(key);
  if (at == std::string::npos) return "";
  const size_t start = at + key.size();
  return text.substr(start, text.find('"', start) - start);
}

// One request on a connection of its own. `content_length`, when set, is
// sent instead of the body's length (and the body is not sent).
// `authorization`, when not empty, is sent as the Authorization header.
inline Reply Fetch(int port, http::verb method, const std::string& target,
                   const std::string& body = "", long content_length = -1,
                   const std::string& authorization = "") {
  net::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"),
                               static_cast<unsigned short>(port)));
  http::request<http::string_body> request(method, target, 11);
  request.set(http::field::host, "127.0.0.1");
  if (!authorization.empty()) {
    request.set(http::field::authorization, authorization);
  }
  beast::error_code ec;
  if (content_length >= 0) {
    request.content_length(content_length);
    http::request_serializer<http::string_body> serializer(request);
    http::write_header(socket, serializer, ec);
  } else {
    request.body() = body;
    request.prepare_payload();
    http::write(socket, request, ec);
  }
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(socket, buffer, response, ec);
  EXPECT_FALSE(ec) << target << ": " << ec.message();
  return {static_cast<int>(response.result_int()),
          std::string(response[http::field::content_type]),
          response.body(),
          std::string(response["Content-Security-Policy"]),
          std::string(response[http::field::content_disposition]),
          {}};
}

// One request with `headers` (name, value) on a connection of its own; the
// answer with all its headers.
inline Reply FetchWith(
    int port, http::verb method, const std::string& target,
    const std::vector<std::pair<std::string, std::string>>& headers,
    const std::string& body = "") {
  net::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"),
                               static_cast<unsigned short>(port)));
  http::request<http::string_body> request(method, target, 11);
  request.set(http::field::host, "127.0.0.1");
  for (const auto& [name, value] : headers) request.set(name, value);
  if (!body.empty() || method == http::verb::post) {
    request.body() = body;
    request.prepare_payload();
  }
  beast::error_code ec;
  http::write(socket, request, ec);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(socket, buffer, response, ec);
  EXPECT_FALSE(ec) << target << ": " << ec.message();
  Reply reply{static_cast<int>(response.result_int()),
              std::string(response[http::field::content_type]),
              response.body(),
              std::string(response["Content-Security-Policy"]),
              std::string(response[http::field::content_disposition]),
              {}};
  for (const auto& field : response) {
    std::string name(field.name_string());
    for (char& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    reply.headers[name] = std::string(field.value());
  }
  return reply;
}

// Raw bytes, and whatever comes back until the server closes.
inline std::string SendRaw(int port, const std::string& bytes) {
  net::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"),
                               static_cast<unsigned short>(port)));
  net::write(socket, net::buffer(bytes));
  std::string out;
  beast::error_code ec;
  char chunk[4096];
  for (int i = 0; i < 1000; ++i) {
    const size_t n = socket.read_some(net::buffer(chunk), ec);
    if (ec) break;
    out.append(chunk, n);
  }
  return out;
}

// An open event stream, read as it comes.
class SseReader {
 public:
  // GET `target` with `key` as the bearer token (none when empty).
  SseReader(int port, const std::string& target, const std::string& key,
            const std::string& last_event_id = "")
      : SseReader(port, http::verb::get, target, key, "", last_event_id) {}

  SseReader(
      int port, http::verb method, const std::string& target,
      const std::string& key, const std::string& body,
      const std::string& last_event_id = "",
      const std::vector<std::pair<std::string, std::string>>& headers = {})
      : stream_(ioc_) {
    stream_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"),
                                  static_cast<unsigned short>(port)));
    http::request<http::string_body> request(method, target, 11);
    request.set(http::field::host, "127.0.0.1");
    if (!key.empty()) request.set(http::field::authorization, "Bearer " + key);
    if (!last_event_id.empty()) request.set("Last-Event-ID", last_event_id);
    for (const auto& [name, value] : headers) request.set(name, value);
    if (method != http::verb::get) {
      request.body() = body;
      request.prepare_payload();
    }
    http::write(stream_, request);
  }

  // Ends the connection (a phone that lost its network).
  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  // Reads until `needle` came (true) or 10 s passed (false).
  bool WaitFor(const std::string& needle) {
    stream_.expires_after(std::chrono::seconds(10));
    char chunk[4096];
    while (text_.find(needle) == std::string::npos) {
      beast::error_code ec;
      const size_t n = stream_.read_some(net::buffer(chunk), ec);
      if (ec) return false;
      text_.append(chunk, n);
    }
    return true;
  }

  const std::string& text() const { return text_; }

 private:
  net::io_context ioc_;
  beast::tcp_stream stream_;
  std::string text_;
};

}  // namespace circuit::testing

#endif  // CIRCUIT_TESTS_INTEGRATION_HTTP_HARNESS_H_
