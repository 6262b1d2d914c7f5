// posix_spawn(3) and posix_spawnp(3), bound as glibc offers them.
//
// glibc implements posix_spawn with clone(CLONE_VM | CLONE_VFORK): the cost does not grow with
// the parent's memory, unlike fork(2). The file actions run in the child in order, then the
// attributes, then exec; the first failure is returned as the function's result (posix_spawn
// does not set errno).
//
// The facade (lib/posix-spawn.ts) validates and normalises every argument; this file turns them
// into posix_spawn_file_actions_t and posix_spawnattr_t, which own no memory of ours, and
// destroys both on every path.
//
// Man pages: posix_spawn(3), posix_spawn_file_actions_addopen(3),
// posix_spawn_file_actions_addchdir_np(3), posix_spawnattr_init(3), sched(7).
#include "posix_spawn.h"

#include <sched.h>
#include <signal.h>
#include <spawn.h>

#include <string>
#include <vector>

#include "util/arguments.h"
#include "util/error.h"
#include "util/strings.h"

namespace posix_process::posix_spawn {

namespace {

// Owns the file actions and the strings they point to until posix_spawn has run.
class FileActions {
 public:
  FileActions() { posix_spawn_file_actions_init(&actions_); }
  ~FileActions() { posix_spawn_file_actions_destroy(&actions_); }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;

  posix_spawn_file_actions_t* get() { return &actions_; }

  // Adds the actions described by the facade, in order. Returns 0 or the errno of a failed add,
  // with its index in `*failed`.
  int Add(Napi::Array list, uint32_t* failed) {
    for (uint32_t i = 0; i < list.Length(); i++) {
      *failed = i;
      Napi::Object action = list.Get(i).As<Napi::Object>();
      std::string kind = action.Get("action").As<Napi::String>().Utf8Value();
      int err;
      if (kind == "open") {
        err = posix_spawn_file_actions_addopen(&actions_, Int(action, "fd"), Path(action),
                                               Int(action, "flags"), Int(action, "mode"));
      } else if (kind == "close") {
        err = posix_spawn_file_actions_addclose(&actions_, Int(action, "fd"));
      } else if (kind == "dup2") {
        // dup2 of an fd onto itself clears FD_CLOEXEC (glibc >= 2.29): how Node's close-on-exec
        // stdio reaches the child.
        err = posix_spawn_file_actions_adddup2(&actions_, Int(action, "fd"), Int(action, "newFd"));
      } else if (kind == "chdir") {
        err = posix_spawn_file_actions_addchdir_np(&actions_, Path(action));
      } else if (kind == "fchdir") {
        err = posix_spawn_file_actions_addfchdir_np(&actions_, Int(action, "fd"));
      } else if (kind == "closefrom") {
        err = posix_spawn_file_actions_addclosefrom_np(&actions_, Int(action, "fd"));
      } else {
        throw Napi::TypeError::New(list.Env(), "unknown file action: " + kind);
      }
      if (err != 0) return err;
    }
    return 0;
  }

 private:
  static int Int(Napi::Object object, const char* key) {
    return object.Get(key).As<Napi::Number>().Int32Value();
  }
  // glibc copies the path into the file actions, but keep our copy alive anyway.
  const char* Path(Napi::Object action) {
    paths_.push_back(BytesArgument(action.Get("path"), "path"));
    return paths_.back().c_str();
  }

  posix_spawn_file_actions_t actions_;
  std::vector<std::string> paths_;
};

class Attributes {
 public:
  Attributes() { posix_spawnattr_init(&attr_); }
  ~Attributes() { posix_spawnattr_destroy(&attr_); }
  Attributes(const Attributes&) = delete;
  Attributes& operator=(const Attributes&) = delete;

  posix_spawnattr_t* get() { return &attr_; }

  // Sets the attributes described by the facade. Returns 0 or the errno of a failed set.
  int Set(Napi::Object options) {
    short flags = 0;
    int err = 0;
    if (options.Has("pgroup")) {
      flags |= POSIX_SPAWN_SETPGROUP;
      err =
          posix_spawnattr_setpgroup(&attr_, options.Get("pgroup").As<Napi::Number>().Int32Value());
    }
    if (err == 0 && options.Get("setsid").ToBoolean()) flags |= POSIX_SPAWN_SETSID;
    if (err == 0 && options.Get("resetids").ToBoolean()) flags |= POSIX_SPAWN_RESETIDS;
    if (err == 0 && options.Has("sigmask")) {
      flags |= POSIX_SPAWN_SETSIGMASK;
      sigset_t set = SignalSet(options.Get("sigmask").As<Napi::Array>());
      err = posix_spawnattr_setsigmask(&attr_, &set);
    }
    if (err == 0 && options.Has("sigdefault")) {
      flags |= POSIX_SPAWN_SETSIGDEF;
      sigset_t set = SignalSet(options.Get("sigdefault").As<Napi::Array>());
      err = posix_spawnattr_setsigdefault(&attr_, &set);
    }
    if (err == 0 && options.Has("schedPolicy")) {
      flags |= POSIX_SPAWN_SETSCHEDULER | POSIX_SPAWN_SETSCHEDPARAM;
      struct sched_param param = {};
      param.sched_priority = options.Get("schedPriority").As<Napi::Number>().Int32Value();
      err = posix_spawnattr_setschedpolicy(
          &attr_, options.Get("schedPolicy").As<Napi::Number>().Int32Value());
      if (err == 0) err = posix_spawnattr_setschedparam(&attr_, &param);
    }
    if (err == 0) err = posix_spawnattr_setflags(&attr_, flags);
    return err;
  }

 private:
  static sigset_t SignalSet(Napi::Array signals) {
    sigset_t set;
    sigemptyset(&set);
    for (uint32_t i = 0; i < signals.Length(); i++) {
      sigaddset(&set, signals.Get(i).As<Napi::Number>().Int32Value());
    }
    return set;
  }

  posix_spawnattr_t attr_;
};

// posixSpawn(searchPath, file, argv, envp, fileActions, attributes) -> pid (envp null: environ).
Napi::Value PosixSpawn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool search_path = info[0].ToBoolean();
  const char* syscall = search_path ? "posix_spawnp" : "posix_spawn";
  std::string file = BytesArgument(info[1], "file");
  CStringArray argv;
  argv.Assign(info[2], "argv");
  CStringArray envp;
  // null: this process's environment, copied here (the facade's JavaScript copy of process.env
  // cost about 50 µs a call; on the main thread process.env is environ).
  if (info[3].IsNull()) {
    envp.AssignEnviron();
  } else {
    envp.Assign(info[3], "env");
  }
  if (!info[4].IsArray() || !info[5].IsObject()) {
    throw Napi::TypeError::New(env, "fileActions must be an array and attributes an object");
  }

  FileActions actions;
  uint32_t failed = 0;
  int err = actions.Add(info[4].As<Napi::Array>(), &failed);
  if (err != 0) {
    // glibc checks each fd against the fd limit as the action is added: the facade names it.
    Napi::Error error = SyscallError(env, err, "posix_spawn_file_actions");
    error.Set("actionIndex", Napi::Number::New(env, failed));
    throw error;
  }
  Attributes attributes;
  err = attributes.Set(info[5].As<Napi::Object>());
  if (err != 0) throw SyscallError(env, err, "posix_spawnattr");

  pid_t pid = 0;
  err = search_path ? ::posix_spawnp(&pid, file.c_str(), actions.get(), attributes.get(),
                                     argv.data(), envp.data())
                    : ::posix_spawn(&pid, file.c_str(), actions.get(), attributes.get(),
                                    argv.data(), envp.data());
  if (err != 0) throw SyscallError(env, err, syscall, file.c_str());
  return Napi::Number::New(env, pid);
}

Napi::Object Constants(Napi::Env env) {
  Napi::Object constants = Napi::Object::New(env);
  constants.Set("SCHED_OTHER", SCHED_OTHER);
  constants.Set("SCHED_FIFO", SCHED_FIFO);
  constants.Set("SCHED_RR", SCHED_RR);
  return constants;
}

}  // namespace

void Initialize(Napi::Env env, Napi::Object exports) {
  exports.Set("posixSpawn", Napi::Function::New(env, PosixSpawn, "posixSpawn"));
  exports.Set("spawnConstants", Constants(env));
}

}  // namespace posix_process::posix_spawn
