package maintenance_test

import (
	"strings"
	"testing"

	"github.com/releaseplan/terraform-provider-release/internal/maintenance"
)

func TestNginxAllowed(t *testing.T) {
	for _, tc := range []struct {
		allowed []string
		want    string
	}{
		{[]string{"127.0.0.1", "10.0.0.0/8", "2001:db8::1"}, ""},
		{nil, ""},
		{[]string{"10.0.0.1", "2001:db8::/32"}, "not IPv6 ranges"},
		{[]string{"10.0.0.300"}, "10.0.0.300"},
	} {
		err := maintenance.NginxAllowed(tc.allowed)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("NginxAllowed(%q) = %v, want %q", tc.allowed, err, tc.want)
		}
	}
}
