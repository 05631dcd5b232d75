#ifndef CTEMPFILES_H
#define CTEMPFILES_H

/* Temporary files that a SIGINT/SIGTERM must not leave behind (the atomic writer's ".NAME.tmp-XXXXXX").
 * A signal handler cannot walk Swift data, so the paths live here in fixed C buffers. */

/* mkstemp(3) on a copy of `template` (ending in XXXXXX) held in a registered slot, so the file
 * is known to the signal handler from the moment it exists. Returns the descriptor (or -1 with
 * errno) and stores the slot in *slot (-1 if none was free: the file is then not covered). */
int ctemp_mkstemp(const char *template_path, int *slot);
/* The path of a slot's file (valid until ctemp_unregister); slot -1: the last uncovered one. */
const char *ctemp_path(int slot);
/* Forgets the slot (after the file was renamed or unlinked). */
void ctemp_unregister(int slot);

/* Installs the SIGINT/SIGTERM handler (again if another handler replaced it). On a signal it
 * hands the first one to the handler that was installed before (the runner's stop handler,
 * which lets the write finish and the run end with its report); with no such handler, or on
 * a second signal, it unlinks every registered path and exits with status 128 + signal. */
int ctemp_install_handlers(void);

#endif
