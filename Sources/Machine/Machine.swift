// Machine module (in progress)
