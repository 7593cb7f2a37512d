// Package tfhandler forwards log/slog records to terraform-plugin-log (tflog), so
// that messages of the domain packages (see internal/logging) show up in TF_LOG
// output with their fields, at the same level.
package tfhandler

import (
	"context"
	"log/slog"

	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/releaseplan/terraform-provider-release/internal/logging"
)

// InstallDefault makes tflog the destination of every domain package's messages
// (logging.SetDefault). The provider calls it once, when it is created.
func InstallDefault() {
	logging.SetDefault(slog.New(&handler{}))
}

// Install returns ctx carrying a logger that writes to tflog through ctx, also
// for records logged without a context.
func Install(ctx context.Context) context.Context {
	return logging.With(ctx, slog.New(New(ctx)))
}

// New returns a handler that logs through tflog with the context of each record:
// the context the Terraform SDK gave the operation carries tflog's own logger.
// Records logged without a context (slog's methods without ...Context) use
// fallback, when not nil.
func New(fallback context.Context) slog.Handler {
	return &handler{ctx: fallback}
}

type handler struct {
	ctx    context.Context
	attrs  []slog.Attr
	groups []string
}

func (h *handler) Enabled(context.Context, slog.Level) bool { return true }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	// slog passes context.Background() for records logged without a context.
	if ctx == nil || ctx == context.Background() {
		ctx = h.ctx
	}
	if ctx == nil {
		return nil
	}
	fields := make(map[string]any, len(h.attrs)+r.NumAttrs())
	for _, a := range h.attrs {
		addAttr(fields, "", a)
	}
	prefix := ""
	for _, g := range h.groups {
		prefix += g + "."
	}
	r.Attrs(func(a slog.Attr) bool {
		addAttr(fields, prefix, a)
		return true
	})
	switch {
	case r.Level >= slog.LevelError:
		tflog.Error(ctx, r.Message, fields)
	case r.Level >= slog.LevelWarn:
		tflog.Warn(ctx, r.Message, fields)
	case r.Level >= slog.LevelInfo:
		tflog.Info(ctx, r.Message, fields)
	default:
		tflog.Debug(ctx, r.Message, fields)
	}
	return nil
}

func addAttr(fields map[string]any, prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range v.Group() {
			addAttr(fields, p, g)
		}
		return
	}
	if a.Key == "" {
		return
	}
	fields[prefix+a.Key] = v.Any()
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	prefix := ""
	for _, g := range h.groups {
		prefix += g + "."
	}
	out := *h
	out.attrs = append([]slog.Attr(nil), h.attrs...)
	for _, a := range attrs {
		if prefix != "" {
			a.Key = prefix + a.Key
		}
		out.attrs = append(out.attrs, a)
	}
	return &out
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	out := *h
	out.groups = append(append([]string(nil), h.groups...), name)
	return &out
}
