{{/*
Object names derive from the release name (docs/deployment.md#chart, README.md "Naming"),
with Helm's conventions: fullnameOverride if set; else the release name when it contains
the chart name (nameOverride if set), else "<release>-<chart name>"; cut to 63 characters
(a DNS label) without a trailing "-". Release "cap-verifier" gives the names the runbook
and deploy/examples use: Deployment cap-verifier, Service cap-verifier-service, ConfigMap
cap-verifier-config, PVC cap-verifier-data.

The labels app and app.kubernetes.io/name stay "cap-verifier" whatever the release or
nameOverride: the ServiceMonitor takes the job name from app.kubernetes.io/name (jobLabel)
and the alerts select job="cap-verifier"; the annotation-driven scrape config of
docs/deployment.md#monitoring keeps pods by app=cap-verifier. Releases are told apart by
app.kubernetes.io/instance, which the selectors include.
*/}}
{{- define "cap-verifier.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Names with a suffix stay within 63 characters (a Service name is a DNS label). */}}
{{- define "cap-verifier.serviceName" -}}
{{- printf "%s-service" (include "cap-verifier.fullname" . | trunc 55 | trimSuffix "-") -}}
{{- end -}}

{{- define "cap-verifier.configMapName" -}}
{{- printf "%s-config" (include "cap-verifier.fullname" . | trunc 56 | trimSuffix "-") -}}
{{- end -}}

{{- define "cap-verifier.pvcName" -}}
{{- printf "%s-data" (include "cap-verifier.fullname" . | trunc 58 | trimSuffix "-") -}}
{{- end -}}

{{/*
The pod's ServiceAccount: serviceAccount.name, else the fullname when the chart creates it,
else "default".
*/}}
{{- define "cap-verifier.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "cap-verifier.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "cap-verifier.labels" -}}
app: cap-verifier
app.kubernetes.io/name: cap-verifier
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "cap-verifier.selectorLabels" -}}
app: cap-verifier
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "cap-verifier.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/*
Mount points of the files the daemon configuration names. Kept outside /etc/cap-verifier:
kubelet cannot create mount points inside the read-only ConfigMap volume.
*/}}
{{- define "cap-verifier.paths" -}}
tls: /etc/cap-verifier-tls
clientCA: /etc/cap-verifier-client-ca
idpCA: /etc/cap-verifier-idp-ca
registryKey: /etc/cap-verifier-registry-key
registryDbPassword: /etc/cap-verifier-registry-db-password
registryDbCA: /etc/cap-verifier-registry-db-ca
trustKeys: /etc/cap-verifier-trust/keys
trustPolicies: /etc/cap-verifier-trust/policies
trustTSA: /etc/cap-verifier-trust/tsa
s3Credentials: /etc/cap-verifier-s3
s3CA: /etc/cap-verifier-s3-ca
backupKey: /etc/cap-verifier-backup-key
{{- end -}}

{{/*
The daemon's configuration files: the data of the ConfigMap <fullname>-config, one file per
section, each holding its own top-level section (cache.yaml = "cache:\n  size: ...").

Rule (mirrored by deploy/tools/chart-config.py, which the tests use):
  1. every lower_snake_case key of the values sections server, oauth2, cache, tls, registry,
     trust, verify, backup, logging, shutdown is copied as it is (camelCase keys are chart
     wiring and never reach the daemon);
  2. oauth2 becomes the section `auth`, oauth2.audience becomes auth.audiences (a list);
  3. server.listen / server.admin_listen = 0.0.0.0:<ports.api> / 0.0.0.0:<ports.admin>;
  4. file paths come from the mounted Secrets / ConfigMaps named by the camelCase keys;
  5. backup.s3 (its lower_snake_case keys) is rendered only with backup.s3.url, and then
     needs backup.s3CredentialsSecret (backup.s3.credentials_file).
*/}}
{{- define "cap-verifier.configData" -}}
{{- $snake := "^[a-z][a-z0-9_]*$" -}}
{{- $v := .Values -}}
{{- $paths := include "cap-verifier.paths" . | fromYaml -}}
{{- $s := dict -}}
{{- range $name := list "server" "oauth2" "cache" "tls" "registry" "trust" "verify" "backup" "logging" "shutdown" -}}
{{- $out := dict -}}
{{- range $k, $val := (index $v $name | default dict) -}}
{{- if regexMatch $snake $k -}}
{{- $_ := set $out $k $val -}}
{{- end -}}
{{- end -}}
{{- $_ := set $s $name $out -}}
{{- end -}}
{{- /* server */ -}}
{{- if or (hasKey $s.server "listen") (hasKey $s.server "admin_listen") -}}
{{- fail "set ports.api / ports.admin instead of server.listen / server.admin_listen" -}}
{{- end -}}
{{- $_ := set $s.server "listen" (printf "0.0.0.0:%d" (int $v.ports.api)) -}}
{{- $_ := set $s.server "admin_listen" (printf "0.0.0.0:%d" (int $v.ports.admin)) -}}
{{- /* auth */ -}}
{{- $auth := omit $s.oauth2 "audience" -}}
{{- with $v.oauth2.audience -}}
{{- $_ := set $auth "audiences" (kindIs "slice" . | ternary . (list .)) -}}
{{- end -}}
{{- with $v.oauth2.caConfigMap -}}
{{- $_ := set $auth "ca_file" (printf "%s/ca.crt" $paths.idpCA) -}}
{{- end -}}
{{- if $auth.enabled -}}
{{- $_ := required "oauth2.issuer is required when oauth2.enabled is true" $auth.issuer -}}
{{- $_ := required "oauth2.audience is required when oauth2.enabled is true" $auth.audiences -}}
{{- $_ := required "oauth2.jwks_url is required when oauth2.enabled is true" $auth.jwks_url -}}
{{- end -}}
{{- /* tls */ -}}
{{- if $v.tls.secretName -}}
{{- $_ := set $s.tls "cert_file" (printf "%s/tls.crt" $paths.tls) -}}
{{- $_ := set $s.tls "key_file" (printf "%s/tls.key" $paths.tls) -}}
{{- end -}}
{{- if $v.tls.clientCASecretName -}}
{{- $_ := set $s.tls "client_ca_file" (printf "%s/ca.crt" $paths.clientCA) -}}
{{- end -}}
{{- /* registry */ -}}
{{- if $v.registry.signingKeySecretName -}}
{{- $_ := set $s.registry "signing_key_file" (printf "%s/key.pem" $paths.registryKey) -}}
{{- end -}}
{{- /* backup: the sidecars' signing key, off-site copies */ -}}
{{- if $v.backup.signingKeySecretName -}}
{{- $_ := set $s.backup "signing_key_file" (printf "%s/key.pem" $paths.backupKey) -}}
{{- end -}}
{{- $s3 := dict -}}
{{- range $k, $val := (index $s.backup "s3" | default dict) -}}
{{- if regexMatch $snake $k -}}
{{- $_ := set $s3 $k $val -}}
{{- end -}}
{{- end -}}
{{- $_ := unset $s.backup "s3" -}}
{{- if $s3.url -}}
{{- $sec := $v.backup.s3CredentialsSecret | default dict -}}
{{- $_ := required "backup.s3CredentialsSecret.name is required with backup.s3.url (a Secret holding an AWS credentials file)" $sec.name -}}
{{- $_ := required "backup.s3CredentialsSecret.key is required with backup.s3.url" $sec.key -}}
{{- $_ := set $s3 "credentials_file" (printf "%s/credentials" $paths.s3Credentials) -}}
{{- if $v.backup.s3CAConfigMap -}}
{{- $_ := set $s3 "ca_file" (printf "%s/ca.crt" $paths.s3CA) -}}
{{- end -}}
{{- $_ := set $s.backup "s3" $s3 -}}
{{- end -}}
{{- /* trust */ -}}
{{- if $v.trust.keysConfigMap -}}
{{- $_ := set $s.trust "dir" $paths.trustKeys -}}
{{- end -}}
{{- if $v.trust.policiesConfigMap -}}
{{- $_ := set $s.trust "policy_dir" $paths.trustPolicies -}}
{{- end -}}
{{- if $v.trust.tsaCAConfigMap -}}
{{- $_ := set $s.trust "tsa_ca_file" (printf "%s/ca.crt" $paths.trustTSA) -}}
{{- end -}}
{{- $_ := set $s "auth" $auth -}}
{{- range $name := list "server" "auth" "cache" "tls" "registry" "trust" "verify" "backup" "logging" "shutdown" }}
{{ $name }}.yaml: |
{{- dict $name (index $s $name) | toYaml | nindent 2 }}
{{- end }}
{{- end -}}

{{/*
terminationGracePeriodSeconds: longer than the daemon's drain (grace + timeout), so
Kubernetes never SIGKILLs a pod that is still finishing accepted requests; by default 25 s
longer, for what follows the drain with the registry failing: the listeners' stop (up to
5 s), the wait for queued records (5 s) and the registry's own close (10 s).
*/}}
{{- define "cap-verifier.terminationGracePeriod" -}}
{{- $grace := int (.Values.shutdown.grace_seconds | default 5) -}}
{{- $timeout := int (.Values.shutdown.timeout_seconds | default 25) -}}
{{- $drain := add $grace $timeout -}}
{{- $t := int (.Values.terminationGracePeriodSeconds | default (add $drain 25)) -}}
{{- if le $t $drain -}}
{{- fail (printf "terminationGracePeriodSeconds (%d) must exceed shutdown.grace_seconds + shutdown.timeout_seconds (%d)" $t $drain) -}}
{{- end -}}
{{- $t -}}
{{- end -}}

{{/*
The registry mode: "postgres" when registry.externalPostgres.enabled (scale-out: a registry
shared by all replicas), else "sqlite" (one writer on the ReadWriteOncePod volume).
*/}}
{{- define "cap-verifier.registryMode" -}}
{{- $pg := (.Values.registry.externalPostgres | default dict) -}}
{{- if $pg.enabled -}}postgres{{- else -}}sqlite{{- end -}}
{{- end -}}

{{/*
The registry-mode and replica guards (mirrored by deploy/tools/chart-config.py, check_scale):
  both      the daemon keys registry.url and registry.password_file are refused in the
            values: copied into the ConfigMap they would put the database URL (maybe with
            its password) there, and the chart would stay in the SQLite mode (one replica,
            a PVC, no egress to the database); registry.externalPostgres is the way;
  sqlite    one writer: replicaCount, autoscaling.minReplicas and autoscaling.maxReplicas
            must be 1;
  postgres  registry.externalPostgres.urlSecret.name / .key are required (the URL holds the
            password or names the user: it never sits in plain values or the ConfigMap),
            1 <= autoscaling.minReplicas <= autoscaling.maxReplicas, replicaCount >= 1.
*/}}
{{- define "cap-verifier.checkScale" -}}
{{- $v := .Values -}}
{{- $replicas := int ($v.replicaCount | default 1) -}}
{{- $reg := $v.registry | default dict -}}
{{- range $k := list "url" "password_file" -}}
{{- if hasKey $reg $k -}}
{{- fail (printf "registry.%s cannot be set in the values (it would land in the ConfigMap and the chart would stay in the SQLite mode: one replica, a PVC, no egress to the database): for the PostgreSQL registry set registry.externalPostgres.enabled=true with registry.externalPostgres.urlSecret (the URL) and registry.externalPostgres.passwordSecret (the password file), docs/deployment.md \"Registry modes\"" $k) -}}
{{- end -}}
{{- end -}}
{{- if eq (include "cap-verifier.registryMode" .) "postgres" -}}
{{- $pg := $v.registry.externalPostgres -}}
{{- $_ := required "registry.externalPostgres.urlSecret.name is required when registry.externalPostgres.enabled is true (a Secret holding the postgresql:// URL)" (dig "urlSecret" "name" "" $pg) -}}
{{- $_ := required "registry.externalPostgres.urlSecret.key is required when registry.externalPostgres.enabled is true" (dig "urlSecret" "key" "" $pg) -}}
{{- range $s := list "passwordSecret" "caSecret" -}}
{{- if and (dig $s "name" "" $pg) (not (dig $s "key" "" $pg)) -}}
{{- fail (printf "registry.externalPostgres.%s.key is required with %s.name" $s $s) -}}
{{- end -}}
{{- end -}}
{{- if lt $replicas 1 -}}
{{- fail (printf "replicaCount (%d) must be at least 1" $replicas) -}}
{{- end -}}
{{- if $v.autoscaling.enabled -}}
{{- $min := int $v.autoscaling.minReplicas -}}
{{- $max := int $v.autoscaling.maxReplicas -}}
{{- if or (lt $min 1) (gt $min $max) -}}
{{- fail (printf "autoscaling: need 1 <= minReplicas (%d) <= maxReplicas (%d)" $min $max) -}}
{{- end -}}
{{- end -}}
{{- else -}}
{{- if ne $replicas 1 -}}
{{- fail (printf "replicaCount %d: the SQLite registry has exactly one writer (docs/deployment.md#decisions); more replicas need registry.externalPostgres.enabled=true" $replicas) -}}
{{- end -}}
{{- if $v.autoscaling.enabled -}}
{{- $min := int $v.autoscaling.minReplicas -}}
{{- $max := int $v.autoscaling.maxReplicas -}}
{{- if gt $max 1 -}}
{{- fail "autoscaling.maxReplicas > 1 needs a registry shared by all replicas: set registry.externalPostgres.enabled=true (docs/deployment.md#decisions); the SQLite registry has exactly one writer" -}}
{{- end -}}
{{- if or (ne $min 1) (ne $max 1) -}}
{{- fail (printf "autoscaling.minReplicas (%d) and maxReplicas (%d) must both be 1: the SQLite registry has exactly one writer (docs/deployment.md#decisions); more replicas need registry.externalPostgres.enabled=true" $min $max) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
