// The box init image (core/launch/init_image/) embedded in libsbx, served
// as a sealed, executable memfd created on first use.
#pragma once

namespace sbx {

// An fd (close-on-exec) holding the init image, or -1 when this build has no
// image or the host refuses executable memfds (vm.memfd_noexec = 2): boxes
// then use an in-process init instead.
int init_image_fd();

}  // namespace sbx
