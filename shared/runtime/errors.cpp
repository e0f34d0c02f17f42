#include "shared/runtime/errors.h"

namespace mandrill::runtime {

std::string DescribeException(const std::exception_ptr& error) noexcept {
  if (!error) return "no exception";
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (const Cancelled&) {
    return "Cancelled";
  } catch (...) {
    return "unknown exception type";
  }
}

bool IsCancelled(const std::exception_ptr& error) noexcept {
  if (!error) return false;
  try {
    std::rethrow_exception(error);
  } catch (const Cancelled&) {
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace mandrill::runtime
