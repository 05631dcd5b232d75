/* Declarations only: see include/cfuzzdriver.h. */
#include "cfuzzdriver.h"
