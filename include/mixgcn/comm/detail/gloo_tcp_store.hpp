#pragma once
// A Gloo rendezvous store over TCP, for ranks that torchrun (or anyone exporting
// MASTER_ADDR and MASTER_PORT) started: no shared folder and no MPI needed. Debian's
// Gloo has only file, hash and Redis stores, hence this one.
//
// Rank 0 serves a key-value map on MASTER_PORT (every interface); every rank, rank 0
// included, is a client of MASTER_ADDR:MASTER_PORT. set() stores, get() waits until the
// key exists, wait() until all keys do, each bounded by the timeout. Rank 0's store
// stays up until every rank has closed its connection (the rendezvous is over for all)
// or the timeout passes, so no rank is left asking a server that is gone.
//
// Frames: request = op (1 byte: 'S' set, 'G' get, 'W' wait), count (u32), then count
// times (length u32, bytes); reply = status (1 byte: 0 ok, 1 timed out), length (u32),
// bytes. Integers little-endian as the host writes them (every rank of a job shares the
// architecture Gloo's own wire format already assumes).
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gloo/rendezvous/store.h>

#include "mixgcn/core/error.hpp"

namespace mixgcn::comm::detail {

using tcp_clock = std::chrono::steady_clock;

class socket_fd {
public:
    socket_fd() = default;
    explicit socket_fd(int fd) noexcept : fd_(fd) {}
    socket_fd(socket_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    socket_fd& operator=(socket_fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    socket_fd(const socket_fd&) = delete;
    socket_fd& operator=(const socket_fd&) = delete;
    ~socket_fd() { reset(); }
    int get() const noexcept { return fd_; }
    void reset() noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_ = -1;
};

// Waits until `fd` is readable/writable or the deadline passes (false then).
inline bool ready(int fd, short events, tcp_clock::time_point deadline) {
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - tcp_clock::now()).count();
        if (left <= 0) return false;
        pollfd p{fd, events, 0};
        const int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
        if (r > 0) return true;
        if (r < 0 && errno != EINTR) return false;
    }
}

// Whole-buffer send/receive before the deadline; false on timeout, a closed peer or an
// error (the caller names what it was doing).
inline bool send_all(int fd, const void* data, std::size_t n, tcp_clock::time_point deadline) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
        if (!ready(fd, POLLOUT, deadline)) return false;
        const auto w = ::send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (w <= 0) return false;
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}
inline bool recv_all(int fd, void* data, std::size_t n, tcp_clock::time_point deadline) {
    char* p = static_cast<char*>(data);
    while (n > 0) {
        if (!ready(fd, POLLIN, deadline)) return false;
        const auto r = ::recv(fd, p, n, 0);
        if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (r <= 0) return false;
        p += r;
        n -= static_cast<std::size_t>(r);
    }
    return true;
}

inline bool send_frame(int fd, char head, const std::vector<std::string>& parts, tcp_clock::time_point deadline) {
    std::string out(1, head);
    const auto put32 = [&](std::uint32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); };
    put32(static_cast<std::uint32_t>(parts.size()));
    for (const auto& s : parts) {
        put32(static_cast<std::uint32_t>(s.size()));
        out += s;
    }
    return send_all(fd, out.data(), out.size(), deadline);
}

// Reads one frame; parts are capped so a stray connection cannot make the server
// allocate what it declares.
inline bool recv_frame(int fd, char& head, std::vector<std::string>& parts, tcp_clock::time_point deadline) {
    constexpr std::uint32_t max_parts = 1 << 16, max_bytes = 1 << 26;
    std::uint32_t count = 0;
    if (!recv_all(fd, &head, 1, deadline) || !recv_all(fd, &count, 4, deadline) || count > max_parts) return false;
    parts.assign(count, std::string());
    for (auto& s : parts) {
        std::uint32_t len = 0;
        if (!recv_all(fd, &len, 4, deadline) || len > max_bytes) return false;
        s.resize(len);
        if (len && !recv_all(fd, s.data(), len, deadline)) return false;
    }
    return true;
}

// Rank 0's server: one thread accepts, one thread per client answers.
class gloo_tcp_server {
public:
    gloo_tcp_server(int port, int clients, std::chrono::milliseconds timeout) : clients_(clients), timeout_(timeout) {
        listen_ = socket_fd(::socket(AF_INET6, SOCK_STREAM, 0));
        const bool v6 = listen_.get() >= 0;
        if (!v6) listen_ = socket_fd(::socket(AF_INET, SOCK_STREAM, 0));
        if (listen_.get() < 0) fail("socket", port);
        const int one = 1, zero = 0;
        ::setsockopt(listen_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        int rc;
        if (v6) {
            ::setsockopt(listen_.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);  // IPv4 too
            sockaddr_in6 a{};
            a.sin6_family = AF_INET6;
            a.sin6_addr = in6addr_any;
            a.sin6_port = htons(static_cast<std::uint16_t>(port));
            rc = ::bind(listen_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
        } else {
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_addr.s_addr = htonl(INADDR_ANY);
            a.sin_port = htons(static_cast<std::uint16_t>(port));
            rc = ::bind(listen_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
        }
        if (rc != 0) fail("bind", port);
        if (::listen(listen_.get(), clients + 8) != 0) fail("listen", port);
        accept_thread_ = std::thread([this] { accept_loop(); });
    }
    gloo_tcp_server(const gloo_tcp_server&) = delete;
    gloo_tcp_server& operator=(const gloo_tcp_server&) = delete;

    // Stays until every client has connected and closed (all ranks are past the
    // rendezvous) or the timeout passes, then stops.
    ~gloo_tcp_server() {
        {
            std::unique_lock lock(mutex_);
            changed_.wait_for(lock, timeout_, [&] { return closed_ >= clients_; });
            stop_ = true;
            for (const int fd : open_) ::shutdown(fd, SHUT_RDWR);
        }
        changed_.notify_all();
        accept_thread_.join();
        for (auto& t : serve_threads_) t.join();
    }

private:
    [[noreturn]] static void fail(const char* call, int port) {
        throw comm_error(0, std::string("Gloo TCP store: ") + call + " on port " + std::to_string(port) +
                                " (MASTER_PORT) failed: " + std::strerror(errno));
    }

    void accept_loop() {
        int accepted = 0;
        while (accepted < clients_) {
            {
                std::lock_guard lock(mutex_);
                if (stop_) return;
            }
            if (!ready(listen_.get(), POLLIN, tcp_clock::now() + std::chrono::milliseconds(100))) continue;
            const int fd = ::accept(listen_.get(), nullptr, nullptr);
            if (fd < 0) continue;
            const int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            ++accepted;
            std::lock_guard lock(mutex_);
            open_.push_back(fd);
            serve_threads_.emplace_back([this, fd] { serve(fd); });
        }
    }

    void serve(int fd) {
        socket_fd own(fd);
        char op = 0;
        std::vector<std::string> parts;
        // A request may come any time during the rendezvous; stop_ ends the wait.
        while (recv_frame(fd, op, parts, tcp_clock::now() + timeout_)) {
            const auto deadline = tcp_clock::now() + timeout_;
            std::string reply;
            char status = 0;
            std::unique_lock lock(mutex_);
            if (op == 'S' && parts.size() == 2) {
                map_[parts[0]] = std::move(parts[1]);
                changed_.notify_all();
            } else if ((op == 'G' && parts.size() == 1) || op == 'W') {
                const auto all_there = [&] {
                    if (stop_) return true;
                    for (const auto& k : parts)
                        if (!map_.count(k)) return false;
                    return true;
                };
                if (!changed_.wait_until(lock, deadline, all_there) || stop_) status = 1;
                else if (op == 'G') reply = map_[parts[0]];
            } else {
                break;  // not our protocol
            }
            lock.unlock();
            if (!send_frame(fd, status, {reply}, tcp_clock::now() + timeout_)) break;  // fresh: the wait may have used it up
        }
        std::lock_guard lock(mutex_);
        ++closed_;
        std::erase(open_, fd);
        changed_.notify_all();
    }

    const int clients_;
    const std::chrono::milliseconds timeout_;
    socket_fd listen_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::map<std::string, std::string> map_;
    std::vector<int> open_;
    int closed_ = 0;
    bool stop_ = false;
    std::thread accept_thread_;
    std::vector<std::thread> serve_threads_;
};

class gloo_tcp_store final : public ::gloo::rendezvous::Store {
public:
    // Collective over the ranks of one job: rank 0 serves, everyone connects (retrying
    // until rank 0 listens or the timeout passes).
    gloo_tcp_store(const std::string& host, int port, int rank, int size, std::chrono::milliseconds timeout)
        : rank_(rank), timeout_(timeout), where_(host + ":" + std::to_string(port)) {
        require(port > 0 && port < 65536, "comm::gloo rank ", rank, ": MASTER_PORT ", port, " is not a TCP port");
        if (rank == 0) server_ = std::make_unique<gloo_tcp_server>(port, size, timeout);
        const auto deadline = tcp_clock::now() + timeout;
        addrinfo hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        std::string last = "no attempt";
        while (tcp_clock::now() < deadline) {
            addrinfo* found = nullptr;
            const int g = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
            if (g != 0) {
                last = ::gai_strerror(g);
            } else {
                for (auto* a = found; a && fd_.get() < 0; a = a->ai_next) {
                    socket_fd s(::socket(a->ai_family, a->ai_socktype, a->ai_protocol));
                    if (s.get() >= 0 && ::connect(s.get(), a->ai_addr, a->ai_addrlen) == 0) fd_ = std::move(s);
                    else last = std::strerror(errno);
                }
                ::freeaddrinfo(found);
            }
            if (fd_.get() >= 0) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        if (fd_.get() < 0)
            throw comm_error(rank, "Gloo TCP store: cannot reach rank 0's store at " + where_ +
                                       " (MASTER_ADDR:MASTER_PORT) within " + std::to_string(timeout.count()) +
                                       " ms: " + last);
        const int one = 1;
        ::setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }

    // The connection closes first, so rank 0's server sees this rank done.
    ~gloo_tcp_store() override {
        fd_.reset();
        server_.reset();
    }

    void set(const std::string& key, const std::vector<char>& data) override {
        request('S', {key, std::string(data.begin(), data.end())}, "set", key);
    }
    std::vector<char> get(const std::string& key) override {
        const auto v = request('G', {key}, "get", key);
        return {v.begin(), v.end()};
    }
    void wait(const std::vector<std::string>& keys) override { wait(keys, timeout_); }
    void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds&) override {
        request('W', keys, "wait for", keys.empty() ? std::string() : keys.front());
    }

private:
    std::string request(char op, const std::vector<std::string>& parts, const char* what, const std::string& key) {
        const auto deadline = tcp_clock::now() + timeout_ + std::chrono::seconds(1);  // the server's wait, then ours
        char status = 1;
        std::vector<std::string> reply;
        if (!send_frame(fd_.get(), op, parts, deadline) || !recv_frame(fd_.get(), status, reply, deadline) ||
            reply.size() != 1)
            throw comm_error(rank_, std::string("Gloo TCP store at ") + where_ + ": " + what + " '" + key +
                                        "' failed: the connection to rank 0's store was lost or timed out");
        if (status != 0)
            throw comm_error(rank_, std::string("Gloo TCP store at ") + where_ + ": timed out after " +
                                        std::to_string(timeout_.count()) + " ms waiting for '" + key +
                                        "' (a rank did not join the rendezvous)");
        return std::move(reply[0]);
    }

    int rank_;
    std::chrono::milliseconds timeout_;
    std::string where_;
    std::unique_ptr<gloo_tcp_server> server_;
    socket_fd fd_;
};

}  // namespace mixgcn::comm::detail
