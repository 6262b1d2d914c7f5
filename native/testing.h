// Support for the test suite: operations Node cannot do and the tests need, kept out of the API.
#pragma once

#include <napi.h>

namespace posix_process::testing {

void Initialize(Napi::Env env, Napi::Object exports);

// The errno that failNextEpollCtl chose for the next wait's epoll_ctl (wait.cc), or 0; taking it
// clears it.
int TakeInjectedEpollCtlError();

// The errno that failNextCollectStart chose for the next collector's uv_poll_init (collect.cc), or
// 0; taking it clears it.
int TakeInjectedCollectStartError();

// Whether failNextOutputAlloc asked the next growth of a collected output's buffer (collect.cc,
// fd_calls.cc) to fail; taking it clears it.
bool TakeInjectedOutputAllocFailure();

// Throws as a terminating worker's napi call would if failNextFdResult asked it (fd_calls.cc,
// pty.cc: the array that hands new fds to JavaScript); clears the request.
void ThrowIfFdResultFailureInjected(Napi::Env env);

// Throws std::bad_alloc if failNextWaitRegistration asked it (wait.cc, before a wait's pidfd joins
// the epoll set); clears the request.
void ThrowIfWaitRegistrationFailureInjected();

// Throws what throwInNextWaitCallback asked for, if it did (wait.cc, inside the callback's try);
// clears the request.
void ThrowIfWaitCallbackFailureInjected();

// Counts a wait whose readable pidfd had no exit to reap yet (wait.cc), for waitRechecks.
void CountWaitRecheck();

// Whether failNextSignalForkPipe asked the next fork child's new signal self-pipe
// (signal_handlers.cc) to fail as with EMFILE; taking it clears it.
bool TakeInjectedSignalForkPipeFailure();

// The errno that failNextSignalPollInit chose for the uv_poll_init of the next environment's
// signal self-pipe (signal_handlers.cc), or 0; taking it clears it.
int TakeInjectedSignalPollInitError();

}  // namespace posix_process::testing
