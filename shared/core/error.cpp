#include "shared/core/result.h"

namespace mandrill::core {
namespace {

class CoreErrorCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "mandrill.core"; }
  std::string message(int value) const override {
    switch (static_cast<Errc>(value)) {
      case Errc::kInvalidArgument:
        return "invalid argument";
      case Errc::kIo:
        return "i/o error";
      case Errc::kUnavailable:
        return "unavailable";
      case Errc::kInternal:
        return "internal error";
    }
    return "unknown core error " + std::to_string(value);
  }
};

}  // namespace

const std::error_category& CoreCategory() {
  static const CoreErrorCategory category;
  return category;
}

}  // namespace mandrill::core
