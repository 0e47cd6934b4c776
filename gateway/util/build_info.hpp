#pragma once
// build_info: what `herald --version`, herald_build_info and /status report
// about the binary itself. The definitions are generated at build time by
// cmake/build_info.cmake (so the commit is the build's, not the last
// configure's).
//
// Thread contract: immutable (compile-time strings).
#include <string_view>

namespace herald::util {

// The project version (CMakeLists.txt `project(herald VERSION ...)`).
std::string_view version();
// The git commit built from (12 hex digits, "-dirty" when the working tree
// differed from it), the -DHERALD_COMMIT= override, or "unknown".
std::string_view commit();

}  // namespace herald::util
