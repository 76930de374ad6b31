// The failure bookkeeping the emulated cuBLAS and cuDNN share: each library's failed call records a status and a
// message for the calling thread (also printed through the driver's nnemu_report), which its error-string function
// returns for that status. Test-only: see tests/CudaEmulator/README.md.
#pragma once
#include <cstdarg>
#include <cstdio>
#include <string>

#include "nnemu.h"

namespace nnemu
{
// Status: the library's status enum; Success its success value; Name gives each status's enumerator name.
template <typename Status, Status Success, const char* (*Name)(Status)>
class StatusLog
{
public:
    // Records a failure of the calling thread and returns its status.
    static Status FailV(Status status, const char* format, va_list args)
    {
        char buffer[1536];
        vsnprintf(buffer, sizeof buffer, format, args);
        nnemu_report("%s: %s", Name(status), buffer);
        t_lastStatus = status;
        t_lastMessage = std::string(Name(status)) + ": " + buffer;
        return status;
    }

    [[gnu::format(printf, 2, 3)]] static Status Fail(Status status, const char* format, ...)
    {
        va_list args;
        va_start(args, format);
        status = FailV(status, format, args);
        va_end(args);
        return status;
    }

    // A device-range failure: the driver already recorded a message naming the address and allocation.
    static Status FailRange(Status status, const char* call, const char* operand)
    {
        std::string detail = nnemu_last_error();
        return Fail(status, "%s: %s lies outside device memory: %s", call, operand, detail.c_str());
    }

    // The calling thread's last message when it failed with this status, else the status's name.
    static const char* Describe(Status status)
    {
        if (status != Success && status == t_lastStatus && !t_lastMessage.empty()) return t_lastMessage.c_str();
        return Name(status);
    }

private:
    static inline thread_local Status t_lastStatus = Success;
    static inline thread_local std::string t_lastMessage;
};
} // namespace nnemu
