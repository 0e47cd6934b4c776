# HERALD_SANITIZE: build every target with g++'s (or clang's) sanitizers,
# e.g. -DHERALD_SANITIZE=address,undefined (what CI runs, in build-asan) or
# -DHERALD_SANITIZE=thread (build-tsan, by hand). Meant for a build
# directory of its own: every object changes.
#
# -O1 keeps the suites' timing close to a release build's while the reports
# still point at the right lines; -g1 (line tables only) is all a report's
# stack needs and compiles the Beast-heavy files much faster than -g;
# -fno-sanitize-recover turns every UBSan finding into a failure instead of
# a line on stderr nobody reads. These come after CMAKE_CXX_FLAGS_<CONFIG>
# on the command line, so they win over a Debug build's -O0 -g.
set(HERALD_SANITIZE "" CACHE STRING "Sanitizers for every target (address,undefined | thread); empty: none")
if(HERALD_SANITIZE)
  set(herald_sanitize_flags -fsanitize=${HERALD_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all -O1 -g1)
  add_compile_options(${herald_sanitize_flags})
  add_link_options(-fsanitize=${HERALD_SANITIZE})
  message(STATUS "herald: sanitizers ${HERALD_SANITIZE}")
endif()
