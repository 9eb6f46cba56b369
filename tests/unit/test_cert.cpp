// Certificates: CSR, install, view, validation (being written).
