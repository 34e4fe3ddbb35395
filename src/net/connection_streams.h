#pragma once
// The byte streams a server connection reads and writes: plain TCP, or TLS
// over it (OpenSSL on the socket itself, non-blocking, driven by Asio's
// readiness waits). Included by server.cc only, after Asio (see
// reactor_timing.h for why one translation unit holds Asio's handlers).
//
// TLS runs OpenSSL on the socket descriptor rather than through
// asio::ssl::stream, whose memory BIOs keep the kernel out: with the
// descriptor, OpenSSL can hand the record layer to the kernel (kTLS) and
// Fetch's file ranges leave with SSL_sendfile, zero-copy as in plaintext.
// Without kTLS a range is read with pread into a buffer and encrypted in
// user space (the cost is in bench/RESULTS.md).

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <asio.hpp>
#include <cerrno>
#include <cstring>
#include <memory>
#include <system_error>
#include <vector>

#include "net/request.h"
#include "net/tls.h"

namespace sluice::net {

// A file slice could not be sent in full: the frame's size prefix is out,
// so the connection can only be closed. `what()` says why.
class FileSliceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ConnectionStream {
 public:
  explicit ConnectionStream(asio::ip::tcp::socket& socket) : socket_(socket) {}
  virtual ~ConnectionStream() = default;
  ConnectionStream(const ConnectionStream&) = delete;
  ConnectionStream& operator=(const ConnectionStream&) = delete;

  // Before anything is read: the TLS handshake. Throws on failure.
  virtual asio::awaitable<void> handshake() { co_return; }
  // At least one byte into `buffer`; throws at the end of the stream.
  virtual asio::awaitable<size_t> read_some(asio::mutable_buffer buffer) = 0;
  virtual asio::awaitable<void> write(const std::vector<asio::const_buffer>& buffers) = 0;
  virtual asio::awaitable<void> send_file(const FileSlice& file) = 0;
  // Whether SO_RCVLOWAT may be raised: not over TLS, where bytes already
  // decrypted into OpenSSL's buffer would wait for more that never come.
  virtual bool receive_low_watermark_allowed() const { return true; }
  // The peer certificate's subject (RFC 2253), empty without one.
  virtual std::string peer_subject() const { return {}; }

  asio::awaitable<void> read_exact(asio::mutable_buffer buffer) {
    auto* data = static_cast<uint8_t*>(buffer.data());
    for (size_t done = 0; done < buffer.size();)
      done += co_await read_some(asio::buffer(data + done, buffer.size() - done));
  }

 protected:
  asio::awaitable<void> wait(asio::socket_base::wait_type type) {
    co_await socket_.async_wait(type, asio::use_awaitable);
  }
  asio::ip::tcp::socket& socket_;
};

class PlainStream final : public ConnectionStream {
 public:
  using ConnectionStream::ConnectionStream;

  asio::awaitable<size_t> read_some(asio::mutable_buffer buffer) override {
    co_return co_await socket_.async_read_some(buffer, asio::use_awaitable);
  }
  asio::awaitable<void> write(const std::vector<asio::const_buffer>& buffers) override {
    co_await asio::async_write(socket_, buffers, asio::use_awaitable);
  }
  asio::awaitable<void> send_file(const FileSlice& file) override {
    if (!socket_.native_non_blocking()) socket_.native_non_blocking(true);
    off_t position = static_cast<off_t>(file.position);
    size_t left = file.length;
    while (left > 0) {
      ssize_t sent = ::sendfile(socket_.native_handle(), file.fd, &position, left);
      if (sent > 0) {
        left -= static_cast<size_t>(sent);
      } else if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        co_await wait(asio::socket_base::wait_write);
      } else if (sent < 0 && errno == EINTR) {
        continue;
      } else {
        throw FileSliceError(sent == 0 ? std::string("the file ended") : std::strerror(errno));
      }
    }
  }
};

class TlsStream final : public ConnectionStream {
 public:
  TlsStream(asio::ip::tcp::socket& socket, const std::shared_ptr<SSL_CTX>& context)
      : ConnectionStream(socket), context_(context), ssl_(SSL_new(context.get()), &SSL_free) {
    if (!ssl_) throw std::runtime_error("cannot create a TLS session: " + openssl_errors());
    socket_.native_non_blocking(true);
    SSL_set_fd(ssl_.get(), socket_.native_handle());
  }

  asio::awaitable<void> handshake() override {
    co_await retry("TLS handshake", [this] { return SSL_accept(ssl_.get()) == 1; });
  }

  asio::awaitable<size_t> read_some(asio::mutable_buffer buffer) override {
    size_t read = 0;
    co_await retry("TLS read", [&] {
      return SSL_read_ex(ssl_.get(), buffer.data(), buffer.size(), &read) == 1;
    });
    co_return read;
  }

  // Small buffers (a response's header fields) are gathered into records
  // of up to kStagingBytes: one SSL_write per buffer would make a TLS record
  // (and its MAC) per few bytes.
  asio::awaitable<void> write(const std::vector<asio::const_buffer>& buffers) override {
    for (const asio::const_buffer& buffer : buffers) {
      if (staging_.size() + buffer.size() > kStagingBytes) co_await flush();
      if (buffer.size() >= kStagingBytes) {
        co_await write_all(static_cast<const uint8_t*>(buffer.data()), buffer.size());
        continue;
      }
      const auto* data = static_cast<const uint8_t*>(buffer.data());
      staging_.insert(staging_.end(), data, data + buffer.size());
    }
    co_await flush();
  }

  asio::awaitable<void> send_file(const FileSlice& file) override {
    if (BIO_get_ktls_send(SSL_get_wbio(ssl_.get())) != 0) {
      co_await send_file_ktls(file);
      co_return;
    }
    std::vector<uint8_t> chunk(std::min(file.length, kFileChunkBytes));
    for (size_t done = 0; done < file.length;) {
      size_t want = std::min(chunk.size(), file.length - done);
      ssize_t n = ::pread(file.fd, chunk.data(), want, static_cast<off_t>(file.position + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0)
        throw FileSliceError(n == 0 ? std::string("the file ended") : std::strerror(errno));
      co_await write_all(chunk.data(), static_cast<size_t>(n));
      done += static_cast<size_t>(n);
    }
  }

  bool receive_low_watermark_allowed() const override { return false; }
  std::string peer_subject() const override { return net::peer_subject(ssl_.get()); }

 private:
  static constexpr size_t kStagingBytes = 16 * 1024;  // one TLS record's plaintext at most
  static constexpr size_t kFileChunkBytes = 256 * 1024;

  // Runs `attempt` until it succeeds, waiting for the socket as OpenSSL asks.
  template <class Attempt>
  asio::awaitable<void> retry(const char* what, Attempt attempt) {
    for (;;) {
      ERR_clear_error();
      if (attempt()) co_return;
      int error = SSL_get_error(ssl_.get(), 0);
      if (error == SSL_ERROR_WANT_READ) {
        co_await wait(asio::socket_base::wait_read);
      } else if (error == SSL_ERROR_WANT_WRITE) {
        co_await wait(asio::socket_base::wait_write);
      } else if (error == SSL_ERROR_ZERO_RETURN) {
        throw std::system_error(asio::error::eof);
      } else if (error == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
        throw std::system_error(errno != 0 ? errno : ECONNRESET, std::generic_category(), what);
      } else {
        throw std::runtime_error(std::string(what) + " failed: " + openssl_errors());
      }
    }
  }

  asio::awaitable<void> write_all(const uint8_t* data, size_t size) {
    for (size_t done = 0; done < size;) {
      size_t written = 0;
      co_await retry("TLS write", [&] {
        return SSL_write_ex(ssl_.get(), data + done, size - done, &written) == 1;
      });
      done += written;
    }
  }

  asio::awaitable<void> flush() {
    if (staging_.empty()) co_return;
    co_await write_all(staging_.data(), staging_.size());
    staging_.clear();
  }

  asio::awaitable<void> send_file_ktls(const FileSlice& file) {
    for (size_t done = 0; done < file.length;) {
      ossl_ssize_t sent = 0;
      co_await retry("TLS sendfile", [&] {
        sent = SSL_sendfile(ssl_.get(), file.fd, static_cast<off_t>(file.position + done),
                            file.length - done, 0);
        return sent > 0;
      });
      done += static_cast<size_t>(sent);
    }
  }

  std::shared_ptr<SSL_CTX> context_;  // outlives the session
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl_;
  std::vector<uint8_t> staging_;
};

}  // namespace sluice::net
