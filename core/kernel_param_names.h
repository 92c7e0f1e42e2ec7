// Whether Linux 6.18 (x86) knows a boot parameter by this name: one that
// __setup(), early_param() or core_param() registers. The kernel passes the
// others to init and says so ("Unknown kernel command line parameters").
#pragma once

#include <string_view>

namespace memd {

// `name` is the part before '='; '-' and '_' are the same (parameq()).
bool is_kernel_param_name(std::string_view name);

}  // namespace memd
