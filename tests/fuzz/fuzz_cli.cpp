// The tools' flag parser: the input split at NUL bytes into argv, parsed against a
// fixed flag set, then every typed accessor the tools use.
#include <cstdint>
#include <string>
#include <vector>

#include "../../tools/cli.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace mixgcn;
    std::vector<std::string> words{"mixgcn-train"};
    std::string cur;
    for (std::size_t i = 0; i < size; ++i) {
        if (data[i] == 0) {
            words.push_back(std::move(cur));
            cur.clear();
        } else {
            cur += static_cast<char>(data[i]);
        }
    }
    words.push_back(std::move(cur));
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    argv.push_back(nullptr);
    mixgcn_fuzz::expect_error_or_success([&] {
        const cli::args a(static_cast<int>(words.size()), argv.data(), {"epochs", "lr", "seed", "backend", "data", "ranks"},
                          {"help", "json"});
        (void)a.has("help");
        (void)a.get("data", "");
        mixgcn_fuzz::expect_error_or_success([&] { (void)a.number<int>("epochs", 200); });
        mixgcn_fuzz::expect_error_or_success([&] { (void)a.number<double>("lr", 0.01); });
        mixgcn_fuzz::expect_error_or_success([&] { (void)a.number<std::uint64_t>("seed", 42); });
        mixgcn_fuzz::expect_error_or_success([&] { (void)a.number<float>("ranks", 1.0f); });
        mixgcn_fuzz::expect_error_or_success([&] { (void)a.choice("backend", "host", {"host", "cuda", "kokkos"}); });
    });
    return 0;
}
