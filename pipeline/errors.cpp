// SPDX-License-Identifier: Apache-2.0
#include "pipeline/errors.hpp"

#include <exception>

namespace fieldrx {

void rethrow_with_context(const std::string& context) {
  try {
    throw;
  } catch (const ConfigError& e) {
    throw ConfigError(context + ": " + e.what());
  } catch (const StageError& e) {
    throw StageError(context + ": " + e.what());
  } catch (const IoError& e) {
    throw IoError(context + ": " + e.what());
  } catch (const Error& e) {
    throw Error(context + ": " + e.what());
  } catch (const std::exception& e) {
    throw Error(context + ": " + e.what());
  }
}

}  // namespace fieldrx
