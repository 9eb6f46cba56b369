/* ism_time: Unix time to a UTC calendar date, computed by hand (after Howard
 * Hinnant's civil_from_days) so that no thread-unsafe gmtime() and no
 * platform spelling of gmtime_r/gmtime_s is needed. For the dates in mail
 * headers, IMAP INTERNALDATE and HTTP. */
#ifndef ISM_TIME_H
#define ISM_TIME_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int year;
    int month;   /* 1..12 */
    int day;     /* 1..31 */
    int hour, min, sec;
    int wday;    /* 0 = Sunday */
} ism_utc;

void ism_utc_from_ms(int64_t unix_ms, ism_utc *out);

extern const char *const ism_wday_abbr[7];   /* "Sun".."Sat" */
extern const char *const ism_month_abbr[12]; /* "Jan".."Dec" */

#ifdef __cplusplus
}
#endif
#endif
