package host_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/host"
)

// The key and known_hosts come from the configuration; the host's key must be
// in known_hosts, and values reach commands through Env, never pasted into
// the script.
func ExampleDialSSH() {
	ctx := context.Background()
	key, _ := os.ReadFile("deploy_ed25519")
	knownHosts, _ := os.ReadFile("known_hosts")
	h, err := host.DialSSH(ctx, host.SSHConfig{
		Address:    "web2.example.org:2222",
		User:       "deploy",
		PrivateKey: key,
		KnownHosts: string(knownHosts),
	})
	if err != nil {
		fmt.Println(err) // names the host; a refused host key gives its SHA256 fingerprint
		return
	}
	defer h.Close()
	if err := h.WriteFile(ctx, "/srv/histologe/maintenance.json", []byte(`{"enabled":true}`), 0o644); err != nil {
		fmt.Println(err)
		return
	}
	out, err := h.Run(ctx, host.Command{
		Script:  `php bin/console cache:warmup --env="$APP_ENV"`,
		Dir:     "/srv/histologe/current",
		Env:     []string{"APP_ENV=prod", "RELEASE_VERSION=1.7.4"},
		Timeout: 5 * time.Minute,
	})
	fmt.Println(out, err)
}
