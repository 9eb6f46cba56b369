/* eventlog: the ISMail service's entries in the Windows event log
 * (Application log, source "ISMail"). Windows only: svc_win32.c uses it when
 * the program runs under the service control manager.
 *
 * The texts live in the message table compiled from messages.mc into
 * ismail-service.exe; an entry carries only its id (messages.h) and its
 * insertion strings, so Event Viewer shows the text in the viewer's language
 * and monitoring tools can filter on the id. */
#ifndef ISM_EVENTLOG_H
#define ISM_EVENTLOG_H

#include "ism_error.h"
#include "ism_log.h"

/* Makes sure the event log knows the source: the key
 * HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\ISMail with
 * EventMessageFile = this program's path and TypesSupported = 7. Writes only
 * what is missing or names another path (e.g. after the program moved).
 * *changed is set to 1 when it wrote something. Returns 0, or -1 with err. */
int ism_eventlog_install(int *changed, ism_err *err);

/* Opens the source for writing; until then, and after close, the calls below
 * do nothing. data_dir (UTF-8) is named in the "suppressed" entry as where
 * the service log is. */
void ism_eventlog_open(const char *data_dir);
void ism_eventlog_close(void);

/* Writes one entry: id from messages.h (its severity bits choose error,
 * warning or information), with up to two UTF-8 insertion strings (NULL for
 * none). */
void ism_eventlog_report(unsigned long id, const char *s1, const char *s2);

/* An ism_log sink (ism_log_set_sink): forwards warnings and errors, and the
 * "applied settings revision N" line, as entries. At most 30 warnings and
 * errors a minute; past that one ISM_MSG_SUPPRESSED entry, and the rest of
 * the minute goes to the service log only. Error lines that begin with
 * "cannot start: " are left to the caller, which reports ISM_MSG_START_FAILED
 * with the same text. */
void ism_eventlog_log_sink(ism_log_level level, const char *text);

#endif
