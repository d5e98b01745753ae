#pragma once
// Every failed CUDA runtime or cuBLAS call becomes a mixgcn::cuda_error that names the
// call, the source file and line, and the library's own description of the status.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "mixgcn/core/error.hpp"

namespace mixgcn {

class cuda_error : public error {
public:
    cuda_error(const std::string& call, const char* file, int line, int code, const std::string& what)
        : error(std::string(file) + ":" + std::to_string(line) + ": " + call + " failed with " + what + " (" +
                std::to_string(code) + ")"),
          code_(code) {}
    // The raw status (cudaError_t or cublasStatus_t value).
    int code() const noexcept { return code_; }

private:
    int code_;
};

namespace gpu::detail {

inline void check(cudaError_t status, const char* call, const char* file, int line) {
    if (status == cudaSuccess) return;
    // Clear a non-sticky error so the next call does not report it again.
    (void)cudaGetLastError();
    throw cuda_error(call, file, line, static_cast<int>(status),
                     std::string(cudaGetErrorName(status)) + ": " + cudaGetErrorString(status));
}

inline void check(cublasStatus_t status, const char* call, const char* file, int line) {
    if (status == CUBLAS_STATUS_SUCCESS) return;
    throw cuda_error(call, file, line, static_cast<int>(status),
                     std::string(cublasGetStatusName(status)) + ": " + cublasGetStatusString(status));
}

}  // namespace gpu::detail
}  // namespace mixgcn

// Wraps a CUDA runtime or cuBLAS call; the macro exists only to capture the call's text,
// file and line for the message.
#define MIXGCN_CUDA_CHECK(call) ::mixgcn::gpu::detail::check((call), #call, __FILE__, __LINE__)
// After a kernel launch: reports bad launch configurations at the launch site.
#define MIXGCN_CUDA_CHECK_LAUNCH() ::mixgcn::gpu::detail::check(cudaGetLastError(), "kernel launch", __FILE__, __LINE__)
