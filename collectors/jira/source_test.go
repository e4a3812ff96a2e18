package jira

import (
	"errors"
	"strings"
	"testing"

	"github.com/yardstick-dev/yardstick"
	"github.com/yardstick-dev/yardstick/collectors"
)

func TestJiraConfig(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tt := range []struct {
		name    string
		cfg     FileConfig
		env     map[string]string
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{
			name: "cloud", cfg: FileConfig{FileSection: collectors.FileSection{BaseURL: "https://acme.atlassian.net", BackfillDays: 30}, Email: "bot@acme.com"},
			env: map[string]string{"JIRA_API_TOKEN": "t0k"},
			check: func(t *testing.T, c Config) {
				if c.Flavor != Cloud || c.APIToken.Reveal() != "t0k" || c.Email != "bot@acme.com" || c.PersonalAccessToken != "" || c.Backfill.Hours() != 720 {
					t.Errorf("config = %+v", c)
				}
			},
		},
		{
			name: "server", cfg: FileConfig{FileSection: collectors.FileSection{BaseURL: "https://jira.example.com", TokenEnv: "PAT"}, Flavor: "Server"},
			env: map[string]string{"PAT": "p4t"},
			check: func(t *testing.T, c Config) {
				if c.Flavor != Server || c.PersonalAccessToken.Reveal() != "p4t" || c.APIToken != "" {
					t.Errorf("config = %+v", c)
				}
			},
		},
		{name: "no token", cfg: FileConfig{FileSection: collectors.FileSection{BaseURL: "https://acme.atlassian.net"}, Email: "a@b"}, wantErr: "JIRA_API_TOKEN"},
		{name: "no email", cfg: FileConfig{FileSection: collectors.FileSection{BaseURL: "https://acme.atlassian.net"}}, env: map[string]string{"JIRA_API_TOKEN": "t"}, wantErr: "email"},
		{name: "bad url", cfg: FileConfig{FileSection: collectors.FileSection{BaseURL: "acme"}, Email: "a@b"}, env: map[string]string{"JIRA_API_TOKEN": "t"}, wantErr: "base url"},
		{name: "bad flavor", cfg: FileConfig{FileSection: collectors.FileSection{BaseURL: "https://x.y"}, Flavor: "dc"}, env: map[string]string{"JIRA_API_TOKEN": "t"}, wantErr: "flavor"},
		{name: "negative", cfg: FileConfig{FileSection: collectors.FileSection{BaseURL: "https://x.y"}, Email: "a@b", PageSize: -1}, env: map[string]string{"JIRA_API_TOKEN": "t"}, wantErr: "page_size"},
		{name: "bad zone", cfg: FileConfig{FileSection: collectors.FileSection{BaseURL: "https://x.y"}, Email: "a@b", TimeZone: "Mars/Base"}, env: map[string]string{"JIRA_API_TOKEN": "t"}, wantErr: "time zone"},
		{name: "bad story points", cfg: FileConfig{FileSection: collectors.FileSection{BaseURL: "https://x.y"}, Email: "a@b", StoryPointsField: "Story Points"}, env: map[string]string{"JIRA_API_TOKEN": "t"}, wantErr: "story points"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.cfg.collectorConfig(env(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, yardstick.ErrInvalid) {
					t.Fatalf("collectorConfig() = %v, want an ErrInvalid naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("collectorConfig() = %v", err)
			}
			tt.check(t, c)
		})
	}
}
