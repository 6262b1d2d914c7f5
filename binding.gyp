{
  "targets": [
    {
      "target_name": "posix_process",
      "sources": ["<!@(node scripts/native-sources.js)"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      # _except_all: a std::exception (std::bad_alloc...) escaping a binding becomes a JavaScript
      # Error instead of std::terminate.
      "dependencies": ["<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except_all"],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        # A binding called while its worker is being terminated cannot throw its error: without
        # this, node-addon-api's ThrowAsJavaScriptException throws a C++ exception from the
        # wrapper's own catch, and std::terminate aborts the whole process.
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS",
        "_GNU_SOURCE",
        "POSIX_PROCESS_BUILD_SYSTEM=\"node-gyp\""
      ],
      # Hidden symbols and immediate binding: the spawn child runs while the thread that cloned it
      # goes on, so no call on its path may go through a lazily bound PLT entry (CMakeLists.txt).
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers", "-fvisibility=hidden"],
      "ldflags": ["-Wl,-z,now"],
      "conditions": [
        ["OS!='linux'", {"type": "none"}]
      ]
    }
  ]
}
