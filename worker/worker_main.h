#pragma once
// The whole of mandrill-worker as a function, for a program of your own that brings its own
// handlers (docs/clients.md, "C++ SDK"):
//
//   int main(int argc, char** argv) {
//     auto registry = mandrill::worker::HandlerRegistry::WithBuiltins();
//     registry.Register("thumbnail", "make thumbnails", MakeThumbnail);
//     return mandrill::worker::Main(argc, argv, registry);
//   }
//
// Every flag, signal and exit code is mandrill-worker's (docs/handlers.md): 0 after a clean
// drain, 1 when the run failed, 64 for a bad command line or a handler factory's error.
#include "worker/handlers/registry.h"

namespace mandrill::worker {

int Main(int argc, char** argv, const HandlerRegistry& registry);

}  // namespace mandrill::worker
