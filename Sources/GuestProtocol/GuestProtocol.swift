// GuestProtocol module (in progress)
