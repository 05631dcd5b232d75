#ifndef CKVM_H
#define CKVM_H
/* The KVM uAPI as the kernel headers define it. Filled in by the KVM layer. */
#include <linux/kvm.h>
#endif
