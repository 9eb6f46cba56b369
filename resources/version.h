/* version.h: ISMail's version, the one place it is written. The resources
 * (.rc), the programs' --version and the MSI (installer-wix/build-msi.sh reads
 * ISM_VERSION_STRING) all take it from here. */
#ifndef ISM_VERSION_H
#define ISM_VERSION_H

#define ISM_VERSION_MAJOR 0
#define ISM_VERSION_MINOR 1
#define ISM_VERSION_PATCH 0
#define ISM_VERSION_STRING "0.1.0"
#define ISM_PRODUCT_NAME "ISMail"
#define ISM_COMPANY_NAME "InstantServers"
#define ISM_COPYRIGHT "Copyright (C) 2026 InstantServers"

#endif
