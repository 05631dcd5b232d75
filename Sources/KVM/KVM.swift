// KVM module (in progress)
