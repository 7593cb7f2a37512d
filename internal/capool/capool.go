// Package capool builds the certificates a client trusts when its user names a
// CA file (ca_file of the artifact store and of the HTTP checks): the system's
// roots plus the file's PEM certificates, so that a private CA is trusted
// without the public ones being forgotten.
package capool

import (
	"crypto/x509"
	"fmt"
	"os"
)

// Load returns the system's roots (none where the system has no pool) with
// the PEM certificates of file added. A file that cannot be read, or that
// holds no PEM certificate, is an error naming it.
func Load(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", file)
	}
	return pool, nil
}
