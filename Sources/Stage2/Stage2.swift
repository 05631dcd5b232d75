// Stage2 module (in progress)
