// The subreaper trees of a worker thread that ends (terminated, or its loop over) with them alive
// are killed here, natively, since no JavaScript can run then: as `killTree('SIGKILL')` would, by
// the rules of lib/spawn/contain.ts's SubreaperTree. Before, such a tree went on running (only its
// leader died, by its parent-death signal) and its orphans stayed this process's children, zombies
// that nobody reaped (docs/containment.md).
//
// The walk, in rounds until two in a row find nothing alive (a process being reparented can be in
// no children list for a moment) or 500 ms have passed:
// - its roots: the leader while it lives (same pid and start time), and the members the tree's
//   walks in JavaScript found (descendants(), killTree, the polls after the leader's end), each
//   while it is the same process. Orphans that no walk saw are not looked for among the main
//   thread's children, as JavaScript's walk does: at a worker's end that would take the main
//   thread's runSync, posixSpawn and detached child_process children for the tree's and kill them;
// - each live member is stopped before its children are read (it cannot fork away meanwhile),
//   then all are killed;
// - the members that are this process's children with no pidfd are handed to the background
//   reaper, so that none stays a zombie.
// Only workers: the main thread's trees end as they did (the leader by its parent-death signal).
//
// Man pages: proc(5) (/proc/<pid>/stat, task/<tid>/children, fdinfo), kill(2), pidfd_open(2).
#include "subreaper_trees.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "background_reaper.h"
#include "util/addon_state.h"
#include "util/arguments.h"

namespace posix_process::subreaper_trees {

namespace {

struct Stat {
  char state = 0;
  pid_t ppid = 0;
  unsigned long long start = 0;
};

// Reads a small /proc file whole into `buffer` (NUL-terminated); false if it cannot be read.
bool ReadSmallFile(const char* path, char* buffer, size_t size) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  size_t filled = 0;
  while (filled + 1 < size) {
    ssize_t got = ::read(fd, buffer + filled, size - 1 - filled);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    filled += static_cast<size_t>(got);
  }
  ::close(fd);
  buffer[filled] = '\0';
  return filled > 0;
}

// /proc/<pid>/stat's state, ppid and start time (ticks since boot); false once pid is gone.
bool ReadStat(pid_t pid, Stat* stat) {
  char path[64];
  char text[1024];
  ::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  if (!ReadSmallFile(path, text, sizeof text)) return false;
  const char* fields = ::strrchr(text, ')');  // the command may hold spaces and parentheses
  if (fields == nullptr || fields[1] == '\0') return false;
  fields += 2;
  stat->state = fields[0];
  char* end = nullptr;
  stat->ppid = static_cast<pid_t>(::strtol(fields + 1, &end, 10));
  // Field 22 (starttime) is the 20th after the state.
  const char* cursor = end;
  for (int field = 5; field < 22 && cursor != nullptr; field++) cursor = ::strchr(cursor + 1, ' ');
  if (cursor == nullptr) return false;
  stat->start = ::strtoull(cursor + 1, nullptr, 10);
  return true;
}

// Appends the pids of a `children` file (space-separated) to `out`.
void ReadChildrenFile(const char* path, std::vector<pid_t>* out) {
  char text[16384];
  if (!ReadSmallFile(path, text, sizeof text)) return;
  for (char* cursor = text; *cursor != '\0';) {
    char* end = nullptr;
    long pid = ::strtol(cursor, &end, 10);
    if (end == cursor) break;
    if (pid > 0) out->push_back(static_cast<pid_t>(pid));
    cursor = end;
  }
}

// The children of every thread of `pid`.
void ProcessChildren(pid_t pid, std::vector<pid_t>* out) {
  char path[64];
  ::snprintf(path, sizeof path, "/proc/%d/task", pid);
  DIR* tasks = ::opendir(path);
  if (tasks == nullptr) return;
  while (dirent* entry = ::readdir(tasks)) {
    if (entry->d_name[0] == '.') continue;
    char children[320];
    ::snprintf(children, sizeof children, "/proc/%d/task/%s/children", pid, entry->d_name);
    ReadChildrenFile(children, out);
  }
  ::closedir(tasks);
}

// The pids that pidfds of this process refer to (fdinfo's `Pid:`); false if they cannot be read.
bool PidfdPids(std::set<pid_t>* out) {
  DIR* fds = ::opendir("/proc/self/fdinfo");
  if (fds == nullptr) return false;
  while (dirent* entry = ::readdir(fds)) {
    if (entry->d_name[0] == '.') continue;
    char path[320];
    char text[1024];
    ::snprintf(path, sizeof path, "/proc/self/fdinfo/%s", entry->d_name);
    if (!ReadSmallFile(path, text, sizeof text)) continue;
    const char* line = ::strstr(text, "\nPid:");
    if (line != nullptr) out->insert(static_cast<pid_t>(::strtol(line + 5, nullptr, 10)));
  }
  ::closedir(fds);
  return true;
}

void Pause(long nanoseconds) {
  timespec pause = {0, nanoseconds};
  while (::nanosleep(&pause, &pause) != 0 && errno == EINTR) {
  }
}

long long NowMs() {
  timespec now;
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<long long>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
}

class TreeKill {
 public:
  explicit TreeKill(const SubreaperTreeRecord& tree) : seen_(tree.members) {
    seen_[tree.leader] = tree.start;
  }

  void Run() {
    long long deadline = NowMs() + 500;
    for (int empty = 0; empty < 2 && NowMs() < deadline;) {
      empty = Round() == 0 ? empty + 1 : 0;
      Pause(2 * 1000 * 1000);
    }
  }

 private:
  // One round: stops every live member found (each before its children are read), kills them,
  // hands this process's unowned members to the background reaper. Returns the live ones found.
  size_t Round() {
    std::vector<pid_t> pending;
    Stat stat;
    for (const auto& [pid, start] : seen_) {
      if (ReadStat(pid, &stat) && stat.start == start) pending.push_back(pid);
    }
    std::vector<pid_t> stopped;
    std::vector<std::pair<pid_t, unsigned long long>> ours;  // this process's children among them
    std::set<pid_t> visited;
    while (!pending.empty()) {
      pid_t pid = pending.back();
      pending.pop_back();
      if (!visited.insert(pid).second || !ReadStat(pid, &stat)) continue;
      auto known = seen_.find(pid);
      if (known != seen_.end() && known->second != stat.start) continue;  // a recycled pid
      seen_.emplace(pid, stat.start);
      if (stat.ppid == ::getpid()) ours.emplace_back(pid, stat.start);
      if (stat.state == 'Z' || stat.state == 'X') continue;
      ::kill(pid, SIGSTOP);
      stopped.push_back(pid);
      ProcessChildren(pid, &pending);
    }
    for (pid_t pid : stopped) ::kill(pid, SIGKILL);
    // Read after the walk: a pidfd made meanwhile for one of them (the leader's wait) is seen.
    std::set<pid_t> owned;
    if (!ours.empty() && PidfdPids(&owned)) {
      for (const auto& [pid, start] : ours) {
        if (owned.count(pid) == 0) HandOver(pid, start);
      }
    }
    return stopped.size();
  }

  // A member that is this process's child and that nothing else will wait for.
  void HandOver(pid_t pid, unsigned long long start) {
    if (!handed_.insert({pid, start}).second) return;
    long pidfd = ::syscall(SYS_pidfd_open, pid, 0);
    if (pidfd >= 0) background_reaper::HandOver(static_cast<int>(pidfd));
  }

  std::map<pid_t, unsigned long long> seen_;
  std::set<std::pair<pid_t, unsigned long long>> handed_;
};

// A worker's teardown: its trees still alive are killed. Registered after the hook that
// releases the environment's holds on the subreaper flag (subreaper_holds.cc), so run before it:
// orphans still come to this process while the walk looks for them.
void KillEnvironmentTrees(void* data) {
  auto* state = static_cast<AddonState*>(data);
  std::vector<SubreaperTreeRecord> trees;
  trees.swap(state->subreaper_trees);
  state->subreaper_trees_hook_added = false;
  for (const SubreaperTreeRecord& tree : trees) {
    try {
      TreeKill(tree).Run();
    } catch (...) {
      // No memory for the walk: what it did not reach is left as before this change.
    }
  }
}

// The tree of `leader` in this environment, or nullptr.
SubreaperTreeRecord* Find(AddonState& state, pid_t leader) {
  for (SubreaperTreeRecord& tree : state.subreaper_trees) {
    if (tree.leader == leader) return &tree;
  }
  return nullptr;
}

// subreaperTreeAdopted(leader): in a worker, a subreaper tree's leader (a child of this process),
// to be killed with its tree if the worker ends first.
Napi::Value Adopted(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int pid = Int32Argument(info, 0, "leader");
  Stat stat;
  if (::gettid() == ::getpid()) return env.Undefined();           // the main thread (see the top)
  if (pid <= 0 || !ReadStat(pid, &stat)) return env.Undefined();  // gone already: nothing to kill
  AddonState& state = GetAddonState(env);
  if (!state.subreaper_trees_hook_added) {
    if (napi_add_env_cleanup_hook(env, KillEnvironmentTrees, &state) != napi_ok) {
      throw Napi::Error::New(env, "napi_add_env_cleanup_hook failed");
    }
    state.subreaper_trees_hook_added = true;
  }
  state.subreaper_trees.push_back({pid, stat.start, {}});
  return env.Undefined();
}

// subreaperTreeMembers(leader, [pid, start, ...]): members a walk of that tree found.
Napi::Value Members(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int leader = Int32Argument(info, 0, "leader");
  if (info.Length() < 2 || !info[1].IsArray()) throw Napi::TypeError::New(env, "members: array");
  SubreaperTreeRecord* tree = Find(GetAddonState(env), leader);
  if (tree == nullptr) return env.Undefined();
  Napi::Array pairs = info[1].As<Napi::Array>();
  for (uint32_t i = 0; i + 1 < pairs.Length(); i += 2) {
    double pid = pairs.Get(i).ToNumber().DoubleValue();
    double start = pairs.Get(i + 1).ToNumber().DoubleValue();
    if (pid > 0 && start >= 0) {
      tree->members[static_cast<pid_t>(pid)] = static_cast<unsigned long long>(start);
    }
  }
  return env.Undefined();
}

// subreaperTreeEnded(leader): the tree is over (or given up): nothing to kill at the end.
Napi::Value Ended(const Napi::CallbackInfo& info) {
  int pid = Int32Argument(info, 0, "leader");
  auto& trees = GetAddonState(info.Env()).subreaper_trees;
  for (auto it = trees.begin(); it != trees.end(); ++it) {
    if (it->leader == pid) {
      trees.erase(it);  // one: a pid reused by a newer tree's leader keeps that one
      break;
    }
  }
  return info.Env().Undefined();
}

}  // namespace

void Initialize(Napi::Env env, Napi::Object exports) {
  exports.Set("subreaperTreeAdopted", Napi::Function::New(env, Adopted, "subreaperTreeAdopted"));
  exports.Set("subreaperTreeMembers", Napi::Function::New(env, Members, "subreaperTreeMembers"));
  exports.Set("subreaperTreeEnded", Napi::Function::New(env, Ended, "subreaperTreeEnded"));
}

}  // namespace posix_process::subreaper_trees
