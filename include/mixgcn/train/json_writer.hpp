#pragma once
// A minimal streaming JSON writer for reports (--json). Keys and strings are escaped;
// non-finite numbers become null so the output always parses.
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace mixgcn::train {

class json_writer {
public:
    explicit json_writer(std::ostream& os) : os_(os) {}

    json_writer& begin_object() { return open('{'); }
    json_writer& end_object() { return close('}'); }
    json_writer& begin_array() { return open('['); }
    json_writer& end_array() { return close(']'); }

    json_writer& key(std::string_view k) {
        separator();
        string(k);
        os_ << ':';
        after_key_ = true;
        return *this;
    }
    json_writer& value(std::string_view v) { return emit([&] { string(v); }); }
    json_writer& value(const char* v) { return value(std::string_view(v)); }
    json_writer& value(const std::string& v) { return value(std::string_view(v)); }
    json_writer& value(bool v) { return emit([&] { os_ << (v ? "true" : "false"); }); }
    json_writer& value(double v) {
        return emit([&] {
            if (!std::isfinite(v)) {
                os_ << "null";
                return;
            }
            std::ostringstream s;
            s << std::setprecision(17) << v;
            os_ << s.str();
        });
    }
    template <class I>
        requires std::is_integral_v<I>
    json_writer& value(I v) {
        return emit([&] { os_ << v; });
    }
    template <class T>
    json_writer& field(std::string_view k, const T& v) {
        key(k);
        return value(v);
    }

private:
    json_writer& open(char c) {
        emit([&] { os_ << c; });
        first_.push_back(true);
        return *this;
    }
    json_writer& close(char c) {
        first_.pop_back();
        os_ << c;
        return *this;
    }
    template <class F>
    json_writer& emit(F&& f) {
        if (!after_key_) separator();
        after_key_ = false;
        f();
        return *this;
    }
    void separator() {
        if (first_.empty()) return;
        if (!first_.back()) os_ << ',';
        first_.back() = false;
    }
    void string(std::string_view s) {
        os_ << '"';
        for (char ch : s) {
            switch (ch) {
                case '"': os_ << "\\\""; break;
                case '\\': os_ << "\\\\"; break;
                case '\n': os_ << "\\n"; break;
                case '\t': os_ << "\\t"; break;
                case '\r': os_ << "\\r"; break;
                default:
                    if (static_cast<unsigned char>(ch) < 0x20) {
                        os_ << "\\u" << std::hex << std::setw(4) << std::setfill('0') << int(ch) << std::dec;
                    } else {
                        os_ << ch;
                    }
            }
        }
        os_ << '"';
    }
    std::ostream& os_;
    std::vector<bool> first_;
    bool after_key_ = false;
};

}  // namespace mixgcn::train
