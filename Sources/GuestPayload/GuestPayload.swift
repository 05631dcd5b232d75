// GuestPayload module (in progress)
