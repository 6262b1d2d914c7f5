// The background reaper: one detached thread for the whole process, started on first use, that
// waits in epoll_wait on the pidfds handed to it and reaps each child (waitid P_PIDFD, WNOHANG)
// once its pidfd is readable.
//
// Why: a worker thread's waits end with its environment (native/wait.cc), and its libuv, which
// reaps its child_process children, ends too; a child still running then would be a zombie for
// the life of the process once it exits. A pidfd names one process, never a recycled pid, so
// nothing else is ever reaped (ECHILD if someone else reaped it first).
//
// The thread runs only C calls (nothing can throw), with every signal blocked, and the addon is
// pinned in memory (dlopen without dlclose): Node unloads a worker's addon when the last
// environment using it ends, which would unmap the thread's code under it. In the child of a
// fork() the thread does not exist: the atfork handler forgets it (and the epoll set, which the
// parent's thread still reads) so that the child starts its own, and closes the copies of the
// pidfds it had adopted (the parent's children, not the child's to hold).
//
// Man pages: pidfd_open(2), waitid(2), epoll(7), pthread_create(3), pthread_atfork(3), dlopen(3).
#include "background_reaper.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <new>
#include <vector>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

namespace posix_process::background_reaper {

namespace {

// pthread's mutex, not std::mutex: lock() cannot throw.
pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
int epoll_fd = -1;  // the thread's set; -1 until the thread runs
bool atfork_registered = false;
// The pidfds in the set, with `mutex` held. Never destroyed: the thread may use it while the
// process runs its static destructors at exit.
std::vector<int>& adopted = *new std::vector<int>;

void* ReapLoop(void* arg) {
  int set = static_cast<int>(reinterpret_cast<intptr_t>(arg));
  epoll_event events[32];
  for (;;) {
    int ready = ::epoll_wait(set, events, 32, -1);
    if (ready == -1) {
      if (errno == EINTR) continue;
      return nullptr;  // the set is gone: nothing more can be handed over
    }
    bool held = false;  // a readable pidfd with nothing to reap yet (a zombie a tracer holds)
    for (int i = 0; i < ready; i++) {
      int pidfd = events[i].data.fd;
      if (!ReapIfExited(pidfd)) {
        held = true;
        continue;
      }
      // Under the mutex: a fork() meanwhile must not find, in `adopted`, a number closed here.
      ::pthread_mutex_lock(&mutex);
      adopted.erase(std::find(adopted.begin(), adopted.end(), pidfd));
      ::epoll_ctl(set, EPOLL_CTL_DEL, pidfd, nullptr);
      ::close(pidfd);
      ::pthread_mutex_unlock(&mutex);
    }
    // Level-triggered: such a pidfd is reported again at once; look again in 10 ms, not in a spin.
    if (held) {
      timespec pause = {0, 10 * 1000 * 1000};
      ::nanosleep(&pause, nullptr);
    }
  }
}

// Keeps this shared object mapped for the life of the process (the handle is never closed).
bool PinAddon() {
  Dl_info self;
  if (::dladdr(reinterpret_cast<void*>(&ReapLoop), &self) == 0 || self.dli_fname == nullptr) {
    return false;
  }
  return ::dlopen(self.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) != nullptr;
}

// Around fork(): `adopted` is not changed while the process is copied.
void LockForFork() {
  ::pthread_mutex_lock(&mutex);
}
void UnlockAfterFork() {
  ::pthread_mutex_unlock(&mutex);
}

// In a fork child: the thread is the parent's; so is what its set watches.
void ForgetInForkChild() {
  if (epoll_fd != -1) ::close(epoll_fd);
  epoll_fd = -1;
  for (int pidfd : adopted) ::close(pidfd);
  adopted.clear();
  ::pthread_mutex_unlock(&mutex);  // taken by this thread before the fork (LockForFork)
}

// Starts the thread if it does not run; with `mutex` held. 0, or the errno of the step that
// failed, named in `*step`.
int EnsureThread(const char** step) {
  if (epoll_fd != -1) return 0;
  if (!atfork_registered) {
    *step = "pthread_atfork";
    if (int err = ::pthread_atfork(LockForFork, UnlockAfterFork, ForgetInForkChild)) return err;
    atfork_registered = true;
  }
  *step = "dlopen";
  if (!PinAddon()) return ENOENT;
  *step = "epoll_create1";
  int set = ::epoll_create1(EPOLL_CLOEXEC);
  if (set == -1) return errno;
  *step = "pthread_create";
  pthread_attr_t attr;
  if (int err = ::pthread_attr_init(&attr)) {
    ::close(set);
    return err;
  }
  ::pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  ::pthread_attr_setstacksize(&attr, 64 * 1024);
  // The thread inherits its creator's mask: no signal handler of Node's runs on it.
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &previous);
  pthread_t thread;
  int err = ::pthread_create(&thread, &attr, ReapLoop, reinterpret_cast<void*>(intptr_t{set}));
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  ::pthread_attr_destroy(&attr);
  if (err != 0) {
    ::close(set);
    return err;
  }
  epoll_fd = set;
  return 0;
}

}  // namespace

bool ReapIfExited(int pidfd) {
  siginfo_t info;
  info.si_pid = 0;
  int result;
  do {
    result = ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info,
                      WEXITED | WNOHANG);
  } while (result == -1 && errno == EINTR);
  return result == -1 || info.si_pid != 0;
}

int Start(const char** step) {
  ::pthread_mutex_lock(&mutex);
  int err = EnsureThread(step);
  ::pthread_mutex_unlock(&mutex);
  return err;
}

bool Adopt(int pidfd) {
  ::pthread_mutex_lock(&mutex);
  const char* step;
  bool taken = EnsureThread(&step) == 0;
  if (taken) {
    try {
      adopted.push_back(pidfd);
    } catch (const std::bad_alloc&) {
      taken = false;
    }
  }
  if (taken) {
    epoll_event event = {};
    event.events = EPOLLIN;
    event.data.fd = pidfd;
    taken = ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, pidfd, &event) == 0;
    if (!taken) adopted.pop_back();
  }
  ::pthread_mutex_unlock(&mutex);
  return taken;
}

void HandOver(int pidfd) {
  if (ReapIfExited(pidfd) || !Adopt(pidfd)) ::close(pidfd);
}

}  // namespace posix_process::background_reaper
