package statuspage

import (
	"html/template"
	"net/url"
	"time"
)

// funcs are the template helpers: times in UTC with how far from now.
func funcs(now func() time.Time) template.FuncMap {
	return template.FuncMap{
		"when": func(t time.Time) string {
			if t.IsZero() || t.Unix() == 0 {
				return "–"
			}
			d := t.Sub(now()).Round(time.Second)
			rel := "in " + d.String()
			if d < 0 {
				rel = (-d).String() + " ago"
			}
			return t.UTC().Format("2006-01-02 15:04:05Z") + " (" + rel + ")"
		},
		"stamp":      func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") },
		"pathEscape": url.PathEscape,
		"orDash": func(s string) string {
			if s == "" {
				return "–"
			}
			return s
		},
	}
}
