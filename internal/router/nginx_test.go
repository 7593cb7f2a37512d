package router

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/releaseplan/terraform-provider-release/internal/host"
	"github.com/releaseplan/terraform-provider-release/internal/logging"
	"github.com/releaseplan/terraform-provider-release/internal/nginxconf"
)

func TestNginxSwitchAndPreview(t *testing.T) {
	f := startNginxFixture(t, "preview.example.test")
	var logs bytes.Buffer
	ctx := logging.With(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)))

	steps := []struct {
		to   Colour
		idle string
	}{
		{Green, "blue"},
		{Blue, "green"},
		{Green, "blue"},
	}
	for _, step := range steps {
		st, err := f.router.Switch(ctx, step.to, httpCheck)
		if err != nil {
			t.Fatalf("switch to %s: %v", step.to, err)
		}
		if st.Active != step.to || st.Live != f.router.upstream(step.to) || st.Preview != f.router.upstream(step.to.Other()) {
			t.Fatalf("switch to %s returned %+v", step.to, st)
		}
		waitBody(t, f.srv.URL("/"), nil, string(step.to))
		waitBody(t, f.srv.URL("/plain"), nil, string(step.to))
		waitBody(t, f.srv.URL("/"), map[string]string{PreviewHeader: "1"}, step.idle)
		waitBody(t, f.srv.URL("/"), map[string]string{"Host": "preview.example.test"}, step.idle)
		waitBody(t, f.srv.URL("/"), map[string]string{PreviewHeader: "0", "Host": "other.example.test"}, string(step.to))

		read, err := f.router.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if read.Active != step.to || read.SwitchedAt.IsZero() {
			t.Fatalf("Read after switch to %s = %+v", step.to, read)
		}
	}
	if !strings.HasPrefix(readFile(t, f.upstreamFile), Header) {
		t.Errorf("include file lacks the header:\n%s", readFile(t, f.upstreamFile))
	}
	for _, want := range []string{"Switching blue/green router", "Health-checking the colour about to go live", "nginx reloaded"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("progress log lacks %q: %q", want, logs.String())
		}
	}
}

func TestNginxFailuresLeaveTrafficInPlace(t *testing.T) {
	tests := []struct {
		name      string
		prepare   func(f *nginxFixture)
		stage     Stage
		wantInErr string
		noCheck   bool
	}{
		{
			name:      "failing health check",
			prepare:   func(f *nginxFixture) { f.green.Health.Store(503) },
			stage:     StageHealthCheck,
			wantInErr: "answered 503",
		},
		{
			name:      "broken test_command",
			prepare:   func(f *nginxFixture) { f.router.TestCommand = "echo 'config rejected' >&2; exit 3" },
			stage:     StageTest,
			wantInErr: "config rejected",
		},
		{
			name: "failing reload_command",
			prepare: func(f *nginxFixture) {
				f.router.ReloadCommand = "if grep -q 'active=green' " + f.upstreamFile + "; then echo 'reload refused' >&2; exit 1; fi; " + f.srv.ReloadCommand()
			},
			stage:     StageReload,
			wantInErr: "reload refused",
		},
		{
			name: "configuration nginx rejects",
			prepare: func(f *nginxFixture) {
				f.router.Green = "127.0.0.1:notaport"
			},
			stage:     StageTest,
			wantInErr: "invalid port",
			noCheck:   true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := startNginxFixture(t, "")
			before := readFile(t, f.upstreamFile)
			tt.prepare(f)
			check := HealthCheck(httpCheck)
			if tt.noCheck {
				check = nil
			}
			_, err := f.router.Switch(context.Background(), Green, check)
			wantFailedSwitchKeepsBlue(t, f.router, err, tt.stage, tt.wantInErr, "blue ("+f.blue.Addr+")")
			if got := readFile(t, f.upstreamFile); got != before {
				t.Errorf("include file changed:\n%s", got)
			}
			waitBody(t, f.srv.URL("/"), nil, "blue")
		})
	}
}

func TestNginxFailedFirstSwitchRemovesFile(t *testing.T) {
	dir := t.TempDir()
	r := &Nginx{ConfigFile: dir + "/new.conf", UpstreamName: "app", Blue: "127.0.0.1:1", Green: "127.0.0.1:2", TestCommand: "exit 1", ReloadCommand: "true"}
	_, err := r.Switch(context.Background(), Blue, nil)
	var se *SwitchError
	if !errors.As(err, &se) || !se.Restored {
		t.Fatalf("want restored SwitchError, got %v", err)
	}
	if _, err := os.Stat(r.ConfigFile); !os.IsNotExist(err) {
		t.Fatalf("the file of a failed first switch was left behind: %v", err)
	}
	if _, err := r.Read(context.Background()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Read = %v, want ErrNotFound", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

func TestNginxDriftAfterHandEdit(t *testing.T) {
	f := startNginxFixture(t, "")
	ctx := context.Background()
	content := readFile(t, f.upstreamFile)

	tests := []struct {
		name       string
		edit       func(string) string
		wantActive Colour
		wantLive   string
	}{
		{"hand switch to green", func(s string) string {
			return strings.Replace(s, "upstream app {\n    server "+f.blue.Addr, "upstream app {\n    server "+f.green.Addr, 1)
		}, Green, f.green.Addr},
		{"pointed elsewhere", func(s string) string {
			return strings.Replace(s, "upstream app {\n    server "+f.blue.Addr, "upstream app {\n    server 127.0.0.1:9", 1)
		}, "", "127.0.0.1:9"},
		{"untouched", func(s string) string { return s }, Blue, f.blue.Addr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(f.upstreamFile, []byte(tt.edit(content)), 0o644); err != nil {
				t.Fatal(err)
			}
			st, err := f.router.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if st.Active != tt.wantActive || st.Live != tt.wantLive {
				t.Fatalf("Read = %+v, want active %q live %q", st, tt.wantActive, tt.wantLive)
			}
		})
	}
	// Applying again puts the hand edit right.
	if err := os.WriteFile(f.upstreamFile, []byte(tests[0].edit(content)), 0o644); err != nil {
		t.Fatal(err)
	}
	f.srv.Reload(t)
	waitBody(t, f.srv.URL("/"), nil, "green")
	if _, err := f.router.Switch(ctx, Blue, httpCheck); err != nil {
		t.Fatal(err)
	}
	waitBody(t, f.srv.URL("/"), nil, "blue")
}

func TestParse(t *testing.T) {
	r := &Nginx{UpstreamName: "web", Blue: "10.0.0.1:80", Green: "unix:/run/green.sock", PreviewServerName: "Preview.Example.org"}
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		content string
		want    State
		wantErr string
	}{
		{"blue", r.Render(Blue, at), State{Active: Blue, Live: "10.0.0.1:80", Preview: "unix:/run/green.sock", Blue: "10.0.0.1:80", Green: "unix:/run/green.sock", SwitchedAt: at}, ""},
		{"green", r.Render(Green, at), State{Active: Green, Live: "unix:/run/green.sock", Preview: "10.0.0.1:80", Blue: "10.0.0.1:80", Green: "unix:/run/green.sock", SwitchedAt: at}, ""},
		{"foreign file", "upstream web { server 1.2.3.4:80; }\n", State{}, "not written by this provider"},
		{"no upstream block", Header + "\n# release:upstream_name=web\n", State{}, "no `upstream web"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.content, "web")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Parse = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
	dir := t.TempDir()
	r.ConfigFile, r.TestCommand = dir+"/web.conf", `nginx -t -c "/etc/nginx/nginx.conf"`
	if err := os.WriteFile(r.ConfigFile, []byte(r.Render(Green, at)), 0o644); err != nil {
		t.Fatal(err)
	}
	meta, err := ReadMeta(context.Background(), host.Local{}, r.ConfigFile)
	want := Meta{UpstreamName: "web", PreviewServerName: "Preview.Example.org", TestCommand: r.TestCommand, ReloadCommand: nginxconf.DefaultReloadCommand}
	if err != nil || meta != want {
		t.Errorf("ReadMeta = %+v, %v; want %+v", meta, err, want)
	}
	if !strings.Contains(r.Render(Blue, at), `"~^[^:]*:preview\.example\.org$" web_preview;`) {
		t.Errorf("preview server name not rendered in the map:\n%s", r.Render(Blue, at))
	}
}

func TestNginxValidation(t *testing.T) {
	tests := []struct {
		name string
		r    Nginx
		want string
	}{
		{"bad upstream name", Nginx{ConfigFile: "/x", UpstreamName: "my-app", Blue: "a:1", Green: "b:1"}, "upstream name"},
		{"injection in upstream", Nginx{ConfigFile: "/x", UpstreamName: "app", Blue: "a:1; } server {", Green: "b:1"}, "upstream \"a:1; } server {\""},
		{"bad preview name", Nginx{ConfigFile: "/x", UpstreamName: "app", Blue: "a:1", Green: "b:1", PreviewServerName: "a b"}, "preview server name"},
		{"no file", Nginx{UpstreamName: "app", Blue: "a:1", Green: "b:1"}, "config_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.r.Switch(context.Background(), Blue, nil)
			var se *SwitchError
			if !errors.As(err, &se) || se.Stage != StageValidate || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want validation error mentioning %q", err, tt.want)
			}
		})
	}
	if _, err := (&Nginx{}).Switch(context.Background(), "purple", nil); err == nil {
		t.Fatal("purple accepted")
	}
}

func TestNginxRemove(t *testing.T) {
	f := startNginxFixture(t, "")
	// The server block proxies to the upstream: nginx must refuse the removal and the
	// file must come back.
	err := f.router.Remove(context.Background())
	if err == nil || !strings.Contains(err.Error(), "the file was put back") {
		t.Fatalf("Remove = %v, want refusal with the file put back", err)
	}
	if _, err := f.router.Read(context.Background()); err != nil {
		t.Fatalf("file not restored: %v", err)
	}
	waitBody(t, f.srv.URL("/"), nil, "blue")

	standalone := &Nginx{ConfigFile: t.TempDir() + "/x.conf", UpstreamName: "app", Blue: "127.0.0.1:1", Green: "127.0.0.1:2", TestCommand: nginxconf.SkipTest, ReloadCommand: "true"}
	if _, err := standalone.Switch(context.Background(), Green, nil); err != nil {
		t.Fatal(err)
	}
	if err := standalone.Remove(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := standalone.Read(context.Background()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Read after Remove = %v", err)
	}
}
