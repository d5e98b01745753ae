#pragma once
// NumPy .npy files (format versions 1.0, 2.0 and 3.0): header parsing, typed element
// access and a writer. Everything numpy.save writes for integers, floats, bools and
// fixed-width strings loads: C or Fortran order, either byte order (big-endian data is
// byte-swapped and Fortran-order data transposed into C order on load). Anything else
// is an io_error naming the file and byte offset.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "mixgcn/core/error.hpp"
#include "mixgcn/io/file.hpp"

namespace mixgcn::io {

static_assert(std::endian::native == std::endian::little,
              "mixgcn's binary readers and writers assume a little-endian host.");

// Describes the file as written; the elements an npy_array holds are always C order and
// little-endian whatever `fortran_order` and `descr` say.
struct npy_header {
    char kind = 0;               // 'i' signed int, 'u' unsigned int, 'f' float, 'b' bool,
                                 // 'S' bytes, 'U' UCS-4 text
    std::size_t item_size = 0;   // bytes per element ('U3' is 12)
    bool fortran_order = false;
    bool big_endian = false;
    std::vector<std::uint64_t> shape;
    std::size_t header_offset = 0;  // where the dict text starts (10 or 12)
    std::size_t data_offset = 0;    // where the elements start in the file
    std::string descr;

    std::uint64_t count() const noexcept {
        std::uint64_t n = 1;
        for (auto d : shape) n *= d;
        return n;
    }
};

// A loaded .npy file: the bytes (elements in C order, little-endian) and the parsed header.
struct npy_array {
    std::string file;
    std::string bytes;
    npy_header header;
    // A row range read by load_npy_rows: element 0 here is element `first` of the file
    // (header.shape[0] counts the rows read); 0 for a whole file.
    std::uint64_t first = 0;

    const char* element(std::uint64_t i) const noexcept {
        return bytes.data() + header.data_offset + i * header.item_size;
    }
    // Where element i (C-order index) lies in the file, for error messages: a
    // Fortran-order file holds it elsewhere.
    std::uint64_t offset_of(std::uint64_t i) const noexcept {
        if (!header.fortran_order || header.shape.size() < 2) return header.data_offset + (first + i) * header.item_size;
        std::uint64_t f = 0, stride = 1;
        std::vector<std::uint64_t> idx(header.shape.size());
        for (std::size_t k = header.shape.size(); k-- > 0;) {
            idx[k] = i % header.shape[k];
            i /= header.shape[k];
        }
        for (std::size_t k = 0; k < idx.size(); ++k) {
            f += idx[k] * stride;
            stride *= header.shape[k];
        }
        return header.data_offset + f * header.item_size;
    }
    [[noreturn]] void fail(std::uint64_t offset, std::string text, const std::string& reason) const {
        throw io_error(file, static_cast<std::int64_t>(offset), std::move(text), reason, true);
    }
};

namespace detail {

// A tiny parser for the Python dict literal of the header: string keys, values that are
// strings, True/False or tuples of non-negative integers.
class npy_dict_parser {
public:
    npy_dict_parser(const std::string& file, std::string_view text, std::size_t base)
        : file_(file), s_(text), base_(base) {}

    npy_header parse() {
        npy_header h;
        bool have_descr = false, have_order = false, have_shape = false;
        skip();
        expect('{');
        for (;;) {
            skip();
            if (peek() == '}') {
                ++i_;
                break;
            }
            const std::size_t key_at = i_;
            const std::string key = string_literal();
            skip();
            expect(':');
            skip();
            if (key == "descr") {
                h.descr = string_literal();
                have_descr = true;
            } else if (key == "fortran_order") {
                h.fortran_order = boolean();
                have_order = true;
            } else if (key == "shape") {
                h.shape = tuple();
                have_shape = true;
            } else {
                fail(key_at, key, "unexpected key in the .npy header");
            }
            skip();
            if (peek() == ',') {
                ++i_;
                continue;
            }
            skip();
            expect('}');
            break;
        }
        if (!have_descr || !have_order || !have_shape)
            fail(0, std::string(s_), "the .npy header lacks one of 'descr', 'fortran_order', 'shape'");
        return h;
    }

private:
    [[noreturn]] void fail(std::size_t at, std::string text, const std::string& reason) const {
        throw io_error(file_, static_cast<std::int64_t>(base_ + at), std::move(text), reason, true);
    }
    char peek() const noexcept { return i_ < s_.size() ? s_[i_] : '\0'; }
    void skip() noexcept {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n')) ++i_;
    }
    void expect(char c) {
        if (peek() != c) fail(i_, std::string(1, peek()), std::string("malformed .npy header: expected '") + c + "'");
        ++i_;
    }
    std::string string_literal() {
        const char q = peek();
        if (q != '\'' && q != '"') fail(i_, std::string(s_.substr(i_, 16)), "malformed .npy header: expected a string");
        const auto end = s_.find(q, i_ + 1);
        if (end == std::string_view::npos) fail(i_, std::string(s_.substr(i_, 16)), "unterminated string in .npy header");
        std::string out(s_.substr(i_ + 1, end - i_ - 1));
        i_ = end + 1;
        return out;
    }
    bool boolean() {
        if (s_.substr(i_, 4) == "True") {
            i_ += 4;
            return true;
        }
        if (s_.substr(i_, 5) == "False") {
            i_ += 5;
            return false;
        }
        fail(i_, std::string(s_.substr(i_, 8)), "malformed .npy header: expected True or False");
    }
    std::vector<std::uint64_t> tuple() {
        std::vector<std::uint64_t> out;
        expect('(');
        for (;;) {
            skip();
            if (peek() == ')') {
                ++i_;
                return out;
            }
            const std::size_t b = i_;
            std::uint64_t v = 0;
            const auto r = std::from_chars(s_.data() + i_, s_.data() + s_.size(), v);
            if (r.ec != std::errc{}) fail(b, std::string(s_.substr(b, 16)), "malformed .npy shape: expected a dimension");
            i_ = static_cast<std::size_t>(r.ptr - s_.data());
            out.push_back(v);
            skip();
            if (peek() == ',') {
                ++i_;
                continue;
            }
            expect(')');
            return out;
        }
    }

    const std::string& file_;
    std::string_view s_;
    std::size_t base_;
    std::size_t i_ = 0;
};

template <class T>
T load_le(const char* p) noexcept {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// Reverses the bytes of each `unit`-byte group of `data`.
inline void byte_swap(char* data, std::uint64_t bytes, std::size_t unit) noexcept {
    if (unit < 2) return;
    for (std::uint64_t at = 0; at + unit <= bytes; at += unit) std::reverse(data + at, data + at + unit);
}

// Copies Fortran-order elements of `shape` from src into C order at dst. Two dimensions
// (the common case) go through 64 x 64 tiles so both sides stay in cache.
template <std::size_t S>
void fortran_to_c(const char* src, char* dst, const std::vector<std::uint64_t>& shape, std::size_t item) {
    const std::size_t size = S ? S : item;
    auto copy = [&](std::uint64_t to, std::uint64_t from) { std::memcpy(dst + to * size, src + from * size, size); };
    if (shape.size() == 2) {
        const std::uint64_t rows = shape[0], cols = shape[1];
        constexpr std::uint64_t tile = 64;
        for (std::uint64_t rb = 0; rb < rows; rb += tile)
            for (std::uint64_t cb = 0; cb < cols; cb += tile)
                for (std::uint64_t c = cb; c < std::min(cols, cb + tile); ++c)
                    for (std::uint64_t r = rb; r < std::min(rows, rb + tile); ++r) copy(r * cols + c, c * rows + r);
        return;
    }
    // Any rank: walk the source in order (axis 0 fastest), tracking the C-order offset.
    const std::size_t nd = shape.size();
    std::vector<std::uint64_t> stride(nd), idx(nd, 0);
    std::uint64_t n = 1;
    for (std::size_t k = nd; k-- > 0;) {
        stride[k] = n;
        n *= shape[k];
    }
    std::uint64_t to = 0;
    for (std::uint64_t from = 0; from < n; ++from) {
        copy(to, from);
        for (std::size_t k = 0; k < nd; ++k) {
            to += stride[k];
            if (++idx[k] < shape[k]) break;
            to -= stride[k] * shape[k];
            idx[k] = 0;
        }
    }
}

}  // namespace detail

namespace detail {
// Bytes of the image's start that hold its whole header (magic, version, length, dict),
// read from its first min(size, 12) bytes `b`; 0 when `b` is too short to say (the
// header parser then reports what is missing).
inline std::size_t npy_header_end(std::string_view b) noexcept {
    if (b.size() < 10) return 0;
    const int major = static_cast<unsigned char>(b[6]);
    if (major == 1) return 10 + load_le<std::uint16_t>(b.data() + 8);
    if ((major == 2 || major == 3) && b.size() >= 12) return 12 + std::size_t(load_le<std::uint32_t>(b.data() + 8));
    return 0;
}

// Parses and checks the header at the start `b` of a .npy image of `total` bytes (`b`
// holds at least the whole header, or all of a shorter image): magic, version, dict,
// dtype, and that the data after the header is exactly as long as the shape says.
// Errors go through a.fail (a.file names the image).
inline npy_header parse_npy_header(const npy_array& a, std::string_view b, std::uint64_t total) {
    if (total == 0) a.fail(0, "", "file is empty");
    constexpr std::string_view magic = "\x93NUMPY";
    if (b.size() < magic.size() || b.substr(0, magic.size()) != magic) {
        if (b.size() < magic.size() && magic.substr(0, b.size()) == b) a.fail(b.size(), "", "truncated .npy magic");
        a.fail(0, std::string(b.substr(0, 6)), "not a .npy file: bad magic");
    }
    if (b.size() < 8) a.fail(b.size(), "", "truncated .npy header: no version");
    const int major = static_cast<unsigned char>(b[6]);
    std::size_t len_bytes = 0;
    if (major == 1) len_bytes = 2;
    else if (major == 2 || major == 3) len_bytes = 4;
    else a.fail(6, std::to_string(major), "unsupported .npy format version");
    if (b.size() < 8 + len_bytes) a.fail(b.size(), "", "truncated .npy header: no header length");
    const std::size_t header_len = len_bytes == 2 ? load_le<std::uint16_t>(b.data() + 8)
                                                  : load_le<std::uint32_t>(b.data() + 8);
    const std::size_t start = 8 + len_bytes;
    if (b.size() < start + header_len)
        a.fail(b.size(), "", "truncated .npy header: promises " + std::to_string(header_len) + " header bytes");
    const std::string_view text = b.substr(start, header_len);
    npy_header h = detail::npy_dict_parser(a.file, text, start).parse();
    h.header_offset = start;
    h.data_offset = start + header_len;

    // descr: byte order, kind, item size, e.g. "<f8", "|i1", ">i4", "<U3", "|S3".
    const std::string& d = h.descr;
    if (d.size() < 3) a.fail(start, d, "unsupported .npy dtype");
    if (d[0] != '<' && d[0] != '|' && d[0] != '=' && d[0] != '>') a.fail(start, d, "unsupported .npy dtype byte order");
    h.kind = d[1];
    std::size_t size = 0;
    const auto r = std::from_chars(d.data() + 2, d.data() + d.size(), size);
    constexpr std::string_view kinds = "iufbSU";
    if (r.ec != std::errc{} || r.ptr != d.data() + d.size() || size == 0 || size > (1u << 20) ||
        kinds.find(h.kind) == std::string_view::npos)
        a.fail(start, d, "unsupported .npy dtype");
    // 'U<n>' counts UCS-4 characters, every other kind bytes.
    h.item_size = h.kind == 'U' ? size * 4 : size;
    h.big_endian = d[0] == '>';

    // Overflow-safe size check: count * item_size must equal the remaining bytes.
    const std::uint64_t have = total - h.data_offset;
    std::uint64_t need = h.item_size;
    for (auto dim : h.shape) {
        if (dim != 0 && need > std::numeric_limits<std::uint64_t>::max() / dim)
            a.fail(start, "", "the .npy shape is too large");
        need *= dim;
    }
    if (have < need)
        a.fail(total, "", "truncated .npy data: shape needs " + std::to_string(need) + " bytes, file has " +
                                 std::to_string(have));
    if (have > need)
        a.fail(h.data_offset + need, "",
               std::to_string(have - need) + " unexpected bytes after the .npy data");
    return h;
}
}  // namespace detail

// Parses and checks a .npy image held in memory (a file or a member of an .npz archive);
// `file` names it in errors, offsets are from the image's first byte. Verifies the data
// is exactly as long as the shape says, then converts it to C order and little-endian.
inline npy_array parse_npy(std::string file, std::string bytes) {
    npy_array a;
    a.file = std::move(file);
    a.bytes = std::move(bytes);
    a.header = detail::parse_npy_header(a, a.bytes, a.bytes.size());
    const std::uint64_t need = a.bytes.size() - a.header.data_offset;

    char* data = a.bytes.data() + a.header.data_offset;
    if (a.header.big_endian) detail::byte_swap(data, need, a.header.kind == 'U' ? 4 : a.header.item_size);
    if (a.header.fortran_order && a.header.shape.size() > 1 && need > 0) {
        std::string c(a.bytes.size(), '\0');
        std::memcpy(c.data(), a.bytes.data(), a.header.data_offset);
        const auto& shape = a.header.shape;
        char* out = c.data() + a.header.data_offset;
        switch (a.header.item_size) {
            case 1: detail::fortran_to_c<1>(data, out, shape, 1); break;
            case 2: detail::fortran_to_c<2>(data, out, shape, 2); break;
            case 4: detail::fortran_to_c<4>(data, out, shape, 4); break;
            case 8: detail::fortran_to_c<8>(data, out, shape, 8); break;
            default: detail::fortran_to_c<0>(data, out, shape, a.header.item_size);
        }
        a.bytes = std::move(c);
    }
    return a;
}

// Loads a .npy file; see parse_npy.
inline npy_array load_npy(const std::filesystem::path& path) { return parse_npy(path.string(), read_file(path)); }

// The header of an open .npy file, reading only the header's bytes; the file's size is
// checked against the shape as for a whole file.
inline npy_header read_npy_header(input_file& file) {
    npy_array a;
    a.file = file.name();
    std::string start(static_cast<std::size_t>(std::min<std::uint64_t>(file.size(), 12)), '\0');
    file.read_at(0, start.data(), start.size());
    const std::uint64_t end =
        std::min<std::uint64_t>(file.size(), std::max<std::uint64_t>(detail::npy_header_end(start), start.size()));
    std::string prefix(static_cast<std::size_t>(end), '\0');
    std::copy(start.begin(), start.end(), prefix.begin());
    file.read_at(start.size(), prefix.data() + start.size(), end - start.size());
    return detail::parse_npy_header(a, prefix, file.size());
}

// Rows [begin, end) (along the first dimension) of a C-order .npy file whose header
// `h` was read by read_npy_header, reading only those rows: the array's shape[0] is
// end - begin and `first` says where its element 0 lies in the file, so the typed
// readers' checks and error offsets hold as for a whole file. Big-endian data is
// byte-swapped; a Fortran-order file (its rows are not contiguous) is an io_error.
// `file` counts the bytes read.
// The same into `a`, whose storage is reused when the range has the size of the last one
// (a reader going through a file in equal slices allocates and faults in one buffer).
inline void load_npy_rows(input_file& file, const npy_header& h, std::uint64_t begin, std::uint64_t end,
                          npy_array& a) {
    a.file = file.name();
    a.header = h;
    if (h.shape.empty()) a.fail(h.header_offset, "()", "a 0-d .npy array has no rows to read");
    if (h.fortran_order && h.shape.size() > 1)
        a.fail(h.header_offset, "fortran_order",
               "reading a row range needs a C-order .npy (save numpy.ascontiguousarray(x) instead)");
    if (begin > end || end > h.shape[0])
        a.fail(h.header_offset, std::to_string(begin) + ".." + std::to_string(end),
               "row range outside the " + std::to_string(h.shape[0]) + " rows of the file");
    std::uint64_t row_elements = 1;
    for (std::size_t k = 1; k < h.shape.size(); ++k) row_elements *= h.shape[k];  // no overflow: checked by the header
    const std::uint64_t row_bytes = row_elements * h.item_size, bytes = (end - begin) * row_bytes;
    // The header's bytes are not needed again: element(i) only skips them. The data bytes
    // are all overwritten by the read (it throws when it cannot fill them).
    if (a.bytes.size() != h.data_offset + bytes) a.bytes.assign(static_cast<std::size_t>(h.data_offset + bytes), '\0');
    file.read_at(h.data_offset + begin * row_bytes, a.bytes.data() + h.data_offset, bytes);
    if (h.big_endian) detail::byte_swap(a.bytes.data() + h.data_offset, bytes, h.kind == 'U' ? 4 : h.item_size);
    a.header.shape[0] = end - begin;
    a.first = begin * row_elements;
}
inline npy_array load_npy_rows(input_file& file, const npy_header& h, std::uint64_t begin, std::uint64_t end) {
    npy_array a;
    load_npy_rows(file, h, begin, end, a);
    return a;
}
inline npy_array load_npy_rows(input_file& file, std::uint64_t begin, std::uint64_t end) {
    return load_npy_rows(file, read_npy_header(file), begin, end);
}

// Calls f(i, value) for every element, `value` having the element type (any integer,
// float or bool dtype); callers convert and range-check.
template <class F>
void npy_for_each(const npy_array& a, F&& f) {
    const auto n = a.header.count();
    auto run = [&]<class S>(S*) {
        for (std::uint64_t i = 0; i < n; ++i) f(i, detail::load_le<S>(a.element(i)));
    };
    const char k = a.header.kind;
    const auto s = a.header.item_size;
    if (k == 'i' && s == 1) run(static_cast<std::int8_t*>(nullptr));
    else if (k == 'i' && s == 2) run(static_cast<std::int16_t*>(nullptr));
    else if (k == 'i' && s == 4) run(static_cast<std::int32_t*>(nullptr));
    else if (k == 'i' && s == 8) run(static_cast<std::int64_t*>(nullptr));
    else if (k == 'f' && s == 4) run(static_cast<float*>(nullptr));
    else if (k == 'f' && s == 8) run(static_cast<double*>(nullptr));
    else if (k == 'u' && s == 1) run(static_cast<std::uint8_t*>(nullptr));
    else if (k == 'u' && s == 2) run(static_cast<std::uint16_t*>(nullptr));
    else if (k == 'u' && s == 4) run(static_cast<std::uint32_t*>(nullptr));
    else if (k == 'u' && s == 8) run(static_cast<std::uint64_t*>(nullptr));
    else if (k == 'b' && s == 1)  // through a byte: a stored 2 would be an invalid bool
        for (std::uint64_t i = 0; i < n; ++i) f(i, detail::load_le<std::uint8_t>(a.element(i)) != 0);
    else a.fail(a.header.header_offset, a.header.descr, "unsupported .npy dtype");
}

// Requires the dtype to be one of `allowed` (numpy descr strings without byte order, e.g.
// "i4", "f8") and the shape to have `ndim` dimensions.
inline void npy_require(const npy_array& a, std::initializer_list<std::string_view> allowed, std::size_t ndim,
                        const char* what) {
    const std::string_view d = std::string_view(a.header.descr).substr(1);
    bool ok = false;
    std::string list;
    for (auto x : allowed) {
        ok = ok || x == d;
        (list += list.empty() ? "" : "/") += x;
    }
    if (!ok) a.fail(a.header.header_offset, a.header.descr, std::string("wrong dtype for ") + what + ": expected " + list);
    if (a.header.shape.size() != ndim) {
        std::string s = "(";
        for (auto x : a.header.shape) s += std::to_string(x) + ",";
        a.fail(a.header.header_offset, s + ")", std::string("wrong shape for ") + what + ": expected " + std::to_string(ndim) +
                                " dimension(s)");
    }
}

// Element i of an 'S' or 'U' array as text, trailing NULs dropped (as numpy does);
// non-ASCII characters of a 'U' array become '?'.
inline std::string npy_string(const npy_array& a, std::uint64_t i) {
    const char* p = a.element(i);
    std::string s;
    if (a.header.kind == 'S') s.assign(p, a.header.item_size);
    else if (a.header.kind == 'U')
        for (std::size_t k = 0; k < a.header.item_size; k += 4) {
            const auto c = detail::load_le<std::uint32_t>(p + k);
            s += c < 128 ? static_cast<char>(c) : '?';
        }
    else a.fail(a.header.header_offset, a.header.descr, "expected a string (S or U) dtype");
    while (!s.empty() && s.back() == '\0') s.pop_back();
    return s;
}

template <class T>
constexpr std::string_view npy_descr() {
    if constexpr (std::is_same_v<T, std::int8_t>) return "|i1";
    else if constexpr (std::is_same_v<T, std::int32_t>) return "<i4";
    else if constexpr (std::is_same_v<T, std::int64_t>) return "<i8";
    else if constexpr (std::is_same_v<T, float>) return "<f4";
    else if constexpr (std::is_same_v<T, double>) return "<f8";
    else static_assert(sizeof(T) == 0, "npy_descr: use int8, int32, int64, float or double elements.");
}

// The header bytes (magic, version 1.0, length, dict padded to a 64-byte boundary).
template <class T>
std::string npy_header_bytes(std::span<const std::uint64_t> shape) {
    std::string dict = "{'descr': '" + std::string(npy_descr<T>()) + "', 'fortran_order': False, 'shape': (";
    for (std::size_t i = 0; i < shape.size(); ++i) dict += std::to_string(shape[i]) + (i + 1 < shape.size() ? ", " : "");
    if (shape.size() == 1) dict += ",";
    dict += "), }";
    const std::size_t unpadded = 10 + dict.size() + 1;
    dict.append((64 - unpadded % 64) % 64, ' ');
    dict += '\n';
    std::string out = "\x93NUMPY";
    out += '\x01';
    out += '\x00';
    const auto len = static_cast<std::uint16_t>(dict.size());
    out += static_cast<char>(len & 0xff);
    out += static_cast<char>(len >> 8);
    return out + dict;
}

// Writes `data` as a C-order array of the given shape.
template <class T>
void write_npy(const std::filesystem::path& path, std::span<const T> data, std::span<const std::uint64_t> shape) {
    std::uint64_t n = 1;
    for (auto d : shape) n *= d;
    require(n == data.size(), "write_npy ", path.string(), ": shape holds ", n, " elements, data has ", data.size());
    output_file out(path);
    out.write(npy_header_bytes<T>(shape));
    out.write({reinterpret_cast<const char*>(data.data()), data.size() * sizeof(T)});
    out.close();
}

}  // namespace mixgcn::io
