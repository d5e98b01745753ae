#pragma once
// A per-process timeline of spans, written as Chrome trace events (the JSON that
// ui.perfetto.dev and chrome://tracing open). Recording is off unless a caller makes a
// recorder active (scoped_recording); then the trainer, the layers and the strategies
// add spans: epochs, forward/backward per layer, aggregation, dense update, packing,
// exchange start and wait, all-reduces, optimizer, evaluation.
//
// Categories carry the meaning the strategy reports give their seconds:
//   comm     time inside a communicator call (strategy_report::comm_seconds)
//   compute  the strategy's own work (compute_seconds); a compute span may enclose comm
//            spans (the mixture's overlapped switch, the data strategy's step), whose
//            time it does not count, as the reports do not
//   others   (step, layer, dense, optimizer, eval, setup) group and name what is inside.
//
// Spans are recorded from the training thread only (kernels' OpenMP threads record
// nothing); the recorder is not synchronised.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace mixgcn::trace {

using clock = std::chrono::steady_clock;

enum class category : std::uint8_t { compute, comm, step, layer, dense, optimizer, eval, setup };

inline const char* category_name(category c) noexcept {
    switch (c) {
        case category::compute: return "compute";
        case category::comm: return "comm";
        case category::step: return "step";
        case category::layer: return "layer";
        case category::dense: return "dense";
        case category::optimizer: return "optimizer";
        case category::eval: return "eval";
        case category::setup: return "setup";
    }
    return "other";
}

// One span. `name` must outlive the recorder (string literals); `layer` < 0: none.
struct event {
    const char* name = "";
    category cat = category::step;
    std::int64_t begin_ns = 0, end_ns = 0;  // since the recorder's origin
    int layer = -1;
};

class recorder {
public:
    recorder() : origin_(clock::now()) {}

    // Time zero of the trace; a distributed run sets every rank's to rank 0's start, read
    // in this rank's clock (mixgcn-train: align_trace_origin).
    void set_origin(clock::time_point t) noexcept { origin_ = t; }
    clock::time_point origin() const noexcept { return origin_; }

    void add(const char* name, category cat, clock::time_point begin, clock::time_point end, int layer = -1) {
        events_.push_back({name, cat, ns(begin), ns(end), layer});
    }
    const std::vector<event>& events() const noexcept { return events_; }
    void clear() noexcept { events_.clear(); }

    // This process's events as Chrome trace objects separated by commas (no brackets),
    // process `pid` named `process_name`, so that several ranks' lists concatenate into
    // one file. Times in microseconds with nanosecond decimals.
    std::string json_events(int pid, const std::string& process_name) const {
        std::string out;
        out.reserve(64 + events_.size() * 120);
        char buf[256];
        std::snprintf(buf, sizeof buf,
                      "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":0,\"args\":{\"name\":\"", pid);
        out += buf;
        append_escaped(out, process_name);
        out += "\"}}";
        std::snprintf(buf, sizeof buf, ",{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":%d,\"tid\":0,\"args\":{\"sort_index\":%d}}",
                      pid, pid);
        out += buf;
        for (const auto& e : events_) {
            out += ",{\"name\":\"";
            append_escaped(out, e.name);
            if (e.layer >= 0) {
                std::snprintf(buf, sizeof buf, " L%d", e.layer);
                out += buf;
            }
            std::snprintf(buf, sizeof buf, "\",\"cat\":\"%s\",\"ph\":\"X\",\"pid\":%d,\"tid\":0,\"ts\":%.3f,\"dur\":%.3f",
                          category_name(e.cat), pid, double(e.begin_ns) / 1e3, double(e.end_ns - e.begin_ns) / 1e3);
            out += buf;
            if (e.layer >= 0) {
                std::snprintf(buf, sizeof buf, ",\"args\":{\"layer\":%d}", e.layer);
                out += buf;
            }
            out += "}";
        }
        return out;
    }

private:
    std::int64_t ns(clock::time_point t) const noexcept {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(t - origin_).count();
    }
    static void append_escaped(std::string& out, const std::string& s) {
        for (const char c : s) {
            if (c == '"' || c == '\\') out += '\\';
            if (static_cast<unsigned char>(c) < 0x20) continue;
            out += c;
        }
    }

    clock::time_point origin_;
    std::vector<event> events_;
};

namespace detail {
inline recorder*& active_slot() noexcept {
    static recorder* r = nullptr;
    return r;
}
}  // namespace detail

// The recorder spans go to, or nullptr (recording off: every call below is a test of
// this pointer).
inline recorder* active() noexcept { return detail::active_slot(); }

// Makes `r` the active recorder until stop() or destruction (the previous one after);
// a null `r` changes nothing.
class scoped_recording {
public:
    explicit scoped_recording(recorder* r) noexcept : on_(r != nullptr), previous_(detail::active_slot()) {
        if (on_) detail::active_slot() = r;
    }
    explicit scoped_recording(recorder& r) noexcept : scoped_recording(&r) {}
    ~scoped_recording() { stop(); }
    void stop() noexcept {
        if (on_) detail::active_slot() = previous_;
        on_ = false;
    }
    scoped_recording(const scoped_recording&) = delete;
    scoped_recording& operator=(const scoped_recording&) = delete;

private:
    bool on_;
    recorder* previous_;
};

// Records [begin, end) when recording is on and returns its length in seconds, so that
// a strategy's timer and its trace are the same two clock readings.
inline double interval(const char* name, category cat, clock::time_point begin, clock::time_point end,
                       int layer = -1) {
    if (recorder* r = active()) r->add(name, cat, begin, end, layer);
    return std::chrono::duration<double>(end - begin).count();
}

// A span from construction to destruction.
class span {
public:
    explicit span(const char* name, category cat, int layer = -1) noexcept
        : name_(name), cat_(cat), layer_(layer), on_(active() != nullptr) {
        if (on_) begin_ = clock::now();
    }
    ~span() {
        if (!on_) return;
        try {
            if (recorder* r = active()) r->add(name_, cat_, begin_, clock::now(), layer_);
        } catch (...) {  // out of memory for one more span: the trace goes without it
        }
    }
    span(const span&) = delete;
    span& operator=(const span&) = delete;

private:
    const char* name_;
    category cat_;
    int layer_;
    bool on_;
    clock::time_point begin_{};
};

}  // namespace mixgcn::trace
