#!/usr/bin/env bash
# Deploys Shopfront's two stacks, infra/cloudformation/core.yaml and then
# edge.yaml, through change sets: each change set is shown, executed once you
# say yes, and waited for; then both stacks' outputs are printed. Needs bash
# and the AWS CLI v2, nothing built. Run infra/deploy.sh --help for the
# settings.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
me=infra/deploy.sh

usage() {
  cat <<'EOF'
infra/deploy.sh: deploy (create or update) the Shopfront stacks through change sets.

  infra/deploy.sh [options]

Every option has an environment variable; an option wins. On the first
deploy the starred ones are required; on an update, whatever is not given
keeps the stack's current value (the release, the certificates, ...).

  --region R                  AWS_REGION (or AWS_DEFAULT_REGION)  *
  --core-stack NAME           CORE_STACK, default shopfront (lowercase: it names the RDS instances)
  --edge-stack NAME           EDGE_STACK, default <core stack>-edge
  --artifacts-bucket B        ARTIFACTS_BUCKET                     * core
  --release-prefix P          RELEASE_PREFIX, ends with '/'        * core
                              (e.g. shopfront/releases/2026-12-01-abc1234/, from infra/release.sh)
  --alb-certificate ARN       ALB_CERTIFICATE_ARN (this region)    * core
  --domain D                  DOMAIN, e.g. example.com             * edge
  --zone ID                   HOSTED_ZONE_ID (Route 53)            * edge
  --cloudfront-certificate A  CLOUDFRONT_CERTIFICATE_ARN (us-east-1) * edge
  --alarm-email E             ALARM_EMAIL                          * edge
  --deletion-protection B     DELETION_PROTECTION, true or false; default false when
                              the core stack is created (so a failed create can roll
                              back), true on every update
  --core-parameter K=V        CORE_PARAMETERS="K=V K=V"; any other core.yaml parameter
  --edge-parameter K=V        EDGE_PARAMETERS="K=V K=V"; any other edge.yaml parameter
  --only core|edge            ONLY; deploy one stack (default: core, then edge)
  --plan                      PLAN=1; create and show the change sets, execute none
  --yes                       ASSUME_YES=1; execute without asking (needed without a terminal)
  -h, --help                  this text

After edge, core is updated once more if the api's CLOUDFRONT_DISTRIBUTION_ID
(core's DistributionId) differs from edge's distribution; that is a rolling
update of the instances. The exit status is non-zero if any step fails; a
failed stack operation prints the failed events and the tail of the boot log.

Examples:
  # first deploy
  AWS_REGION=us-east-1 infra/deploy.sh --artifacts-bucket my-artifacts \
    --release-prefix shopfront/releases/2026-12-01-abc1234/ \
    --alb-certificate arn:aws:acm:us-east-1:111122223333:certificate/... \
    --domain example.com --zone Z0123456789ABC \
    --cloudfront-certificate arn:aws:acm:us-east-1:111122223333:certificate/... \
    --alarm-email ops@example.com
  # a new release (rolling update); everything else stays as it is
  AWS_REGION=us-east-1 infra/deploy.sh --only core --release-prefix shopfront/releases/2026-12-08-def5678/
EOF
}

die() { printf '%s: %s\n' "$me" "$*" >&2; exit 1; }
say() { printf '\n==> %s\n' "$*"; }

region=${AWS_REGION:-${AWS_DEFAULT_REGION:-}}
core_stack=${CORE_STACK:-shopfront}
edge_stack=${EDGE_STACK:-}
artifacts_bucket=${ARTIFACTS_BUCKET:-}
release_prefix=${RELEASE_PREFIX:-}
alb_certificate=${ALB_CERTIFICATE_ARN:-}
domain=${DOMAIN:-}
zone=${HOSTED_ZONE_ID:-}
cloudfront_certificate=${CLOUDFRONT_CERTIFICATE_ARN:-}
alarm_email=${ALARM_EMAIL:-}
deletion_protection=${DELETION_PROTECTION:-}
only=${ONLY:-}
plan=${PLAN:-}
assume_yes=${ASSUME_YES:-}
read -r -a core_extra <<<"${CORE_PARAMETERS:-}"
read -r -a edge_extra <<<"${EDGE_PARAMETERS:-}"

while (($#)); do
  option=$1
  case $option in
    -h | --help) usage; exit 0 ;;
    --plan) plan=1; shift; continue ;;
    --yes) assume_yes=1; shift; continue ;;
  esac
  (($# >= 2)) || die "$option needs a value (see --help)"
  value=$2
  shift 2
  case $option in
    --region) region=$value ;;
    --core-stack) core_stack=$value ;;
    --edge-stack) edge_stack=$value ;;
    --artifacts-bucket) artifacts_bucket=$value ;;
    --release-prefix) release_prefix=$value ;;
    --alb-certificate) alb_certificate=$value ;;
    --domain) domain=$value ;;
    --zone) zone=$value ;;
    --cloudfront-certificate) cloudfront_certificate=$value ;;
    --alarm-email) alarm_email=$value ;;
    --deletion-protection) deletion_protection=$value ;;
    --core-parameter) core_extra+=("$value") ;;
    --edge-parameter) edge_extra+=("$value") ;;
    --only) only=$value ;;
    *) die "unknown option $option (see --help)" ;;
  esac
done

edge_stack=${edge_stack:-$core_stack-edge}
[[ -n $region ]] || die "no region: set AWS_REGION or pass --region"
[[ $core_stack =~ ^[a-z][a-z0-9-]{0,49}$ && $core_stack != *- && $core_stack != *--* ]] ||
  die "core stack name '$core_stack': lowercase letters, digits and single hyphens, at most 50 (it names the RDS instances)"
[[ -z $only || $only == core || $only == edge ]] || die "--only takes core or edge"
[[ -z $deletion_protection || $deletion_protection == true || $deletion_protection == false ]] ||
  die "--deletion-protection takes true or false"
[[ -z $release_prefix || $release_prefix == */ ]] || die "the release prefix must end with '/': $release_prefix"
for pair in "${core_extra[@]}" "${edge_extra[@]}"; do
  [[ $pair == ?*=* ]] || die "a parameter must be KEY=VALUE: $pair"
done
command -v aws >/dev/null || die "the AWS CLI v2 is missing (https://docs.aws.amazon.com/cli/)"
[[ -n $plan || -n $assume_yes || -t 0 ]] || die "not a terminal, so no one can confirm a change set: pass --yes (ASSUME_YES=1) or --plan"

cfn() { aws cloudformation --region "$region" "$@"; }

json_string() { # value → a JSON string
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}

stack_status() { # stack → its status, or NONE
  cfn describe-stacks --stack-name "$1" --query 'Stacks[0].StackStatus' --output text 2>/dev/null || echo NONE
}

stack_output() { # stack key → the output's value, or nothing
  cfn describe-stacks --stack-name "$1" --query "Stacks[0].Outputs[?OutputKey=='$2'].OutputValue" --output text 2>/dev/null |
    sed 's/^None$//'
}

stack_parameter() { # stack key → the parameter's current value, or nothing
  cfn describe-stacks --stack-name "$1" --query "Stacks[0].Parameters[?ParameterKey=='$2'].ParameterValue" --output text 2>/dev/null |
    sed 's/^None$//'
}

show_failure() { # stack → the failed events, and the boot log's tail for core
  local stack=$1 group
  printf '\nThe failed events of %s, newest first:\n' "$stack" >&2
  cfn describe-stack-events --stack-name "$stack" --no-paginate \
    --query "StackEvents[?contains(ResourceStatus, 'FAILED')] | [:15].[Timestamp, LogicalResourceId, ResourceStatus, ResourceStatusReason]" \
    --output table >&2 || true
  if [[ $stack == "$core_stack" ]]; then
    group=$(cfn describe-stack-resource --stack-name "$stack" --logical-resource-id BootLogGroup \
      --query StackResourceDetail.PhysicalResourceId --output text 2>/dev/null || true)
    if [[ -n $group && $group != None ]]; then
      printf '\nThe boot log (%s), last hour; each line names its step:\n' "$group" >&2
      aws logs tail "$group" --region "$region" --since 1h 2>&1 | tail -n 60 >&2 || true
      printf '(empty? then boot.sh never ran: aws ec2 get-console-output --latest --instance-id ID shows the stub)\n' >&2
    fi
  fi
}

# deploy STACK TEMPLATE KEY=VALUE... : one change set, shown, executed, waited for.
deploy() {
  local stack=$1 template=$2
  shift 2
  local status type keys existing="" key pair value json="" name id reason
  local -A given=()
  for pair in "$@"; do
    given[${pair%%=*}]=${pair#*=}
  done

  status=$(stack_status "$stack")
  case $status in
    NONE | REVIEW_IN_PROGRESS) type=CREATE ;;
    ROLLBACK_COMPLETE | ROLLBACK_FAILED)
      show_failure "$stack"
      die "$stack is $status after a failed create; read why above, then: aws cloudformation delete-stack --region $region --stack-name $stack" ;;
    UPDATE_ROLLBACK_FAILED)
      die "$stack is UPDATE_ROLLBACK_FAILED: aws cloudformation continue-update-rollback --region $region --stack-name $stack" ;;
    *_IN_PROGRESS) die "$stack is busy ($status); wait for it, then run again" ;;
    *) type=UPDATE ;;
  esac

  keys=$(cfn get-template-summary --template-body "file://$template" --query 'Parameters[].ParameterKey' --output text)
  if [[ $type == UPDATE ]]; then
    existing=" $(cfn describe-stacks --stack-name "$stack" --query 'Stacks[0].Parameters[].ParameterKey' --output text | tr '\t' ' ') "
  fi
  for key in "${!given[@]}"; do
    [[ " $keys " == *[[:space:]]"$key"[[:space:]]* ]] || die "$(basename "$template") has no parameter $key"
  done
  printf '\n%s (%s), parameters:\n' "$stack" "$type"
  for key in $keys; do
    if [[ -v given[$key] ]]; then
      value=${given[$key]}
      json+="{\"ParameterKey\":$(json_string "$key"),\"ParameterValue\":$(json_string "$value")},"
      printf '  %s = %s\n' "$key" "$value"
    elif [[ $existing == *" $key "* ]]; then
      json+="{\"ParameterKey\":$(json_string "$key"),\"UsePreviousValue\":true},"
      printf '  %s = (as it is)\n' "$key"
    fi
  done
  json="[${json%,}]"

  name="deploy-$(date -u +%Y%m%d-%H%M%S)"
  say "$stack: creating change set $name"
  if ! id=$(cfn create-change-set --stack-name "$stack" --change-set-name "$name" --change-set-type "$type" \
    --template-body "file://$template" --parameters "$json" --capabilities CAPABILITY_IAM \
    --description "infra/deploy.sh" --query Id --output text 2>&1); then
    [[ $id == *"No updates are to be performed"* ]] || die "$stack: cannot create the change set: $id"
    echo "$stack: no changes"
    return 0
  fi
  if ! cfn wait change-set-create-complete --change-set-name "$id"; then
    reason=$(cfn describe-change-set --change-set-name "$id" --query StatusReason --output text)
    if [[ $reason == *"didn't contain changes"* || $reason == *"No updates are to be performed"* ]]; then
      echo "$stack: no changes"
      cfn delete-change-set --change-set-name "$id"
      return 0
    fi
    die "$stack: the change set failed: $reason"
  fi
  cfn describe-change-set --change-set-name "$id" \
    --query 'Changes[].ResourceChange.[Action, LogicalResourceId, ResourceType, Replacement]' --output table

  if [[ -n $plan ]]; then
    cfn delete-change-set --change-set-name "$id"
    if [[ $type == CREATE ]]; then
      cfn delete-stack --stack-name "$stack" # the empty REVIEW_IN_PROGRESS stack the change set made
    fi
    echo "$stack: planned only (--plan); nothing executed"
    return 0
  fi
  if [[ -z $assume_yes ]]; then
    read -r -p "Execute this change set on $stack? [y/N] " value
    if [[ $value != [yY]* ]]; then
      cfn delete-change-set --change-set-name "$id"
      die "$stack: not executed; change set deleted"
    fi
  fi

  if [[ $stack == "$core_stack" && $type == CREATE ]]; then
    say "$stack: executing; a first create takes 30 minutes or more (RDS, then the instances' signals)"
  else
    say "$stack: executing, and waiting for it"
  fi
  cfn execute-change-set --change-set-name "$id"
  if [[ $type == CREATE ]]; then
    cfn wait stack-create-complete --stack-name "$stack" || { show_failure "$stack"; die "$stack: the create failed and was rolled back"; }
  else
    cfn wait stack-update-complete --stack-name "$stack" || { show_failure "$stack"; die "$stack: the update failed; CloudFormation rolled it back to what ran before"; }
  fi
  echo "$stack: $(stack_status "$stack")"
}

emit() { # KEY VALUE → KEY=VALUE, unless VALUE is empty
  if [[ -n $2 ]]; then printf '%s=%s\n' "$1" "$2"; fi
}

core_parameters() { # extra KEY=VALUE... → the core stack's settings, one a line
  local status protection=$deletion_protection
  status=$(stack_status "$core_stack")
  if [[ -z $protection ]]; then
    if [[ $status == NONE || $status == REVIEW_IN_PROGRESS ]]; then protection=false; else protection=true; fi
  fi
  emit ArtifactsBucket "$artifacts_bucket"
  emit ReleasePrefix "$release_prefix"
  emit AlbCertificateArn "$alb_certificate"
  emit DeletionProtection "$protection"
  if (($#)); then printf '%s\n' "$@"; fi
}

edge_parameters() { # extra KEY=VALUE... → the edge stack's settings, one a line
  emit CoreStackName "$core_stack"
  emit DomainName "$domain"
  emit HostedZoneId "$zone"
  emit CloudFrontCertificateArn "$cloudfront_certificate"
  emit AlarmEmail "$alarm_email"
  if (($#)); then printf '%s\n' "$@"; fi
}

require_on_create() { # stack what... : dies when the stack is new and a setting is missing
  local stack=$1 missing=()
  shift
  local status
  status=$(stack_status "$stack")
  [[ $status == NONE || $status == REVIEW_IN_PROGRESS ]] || return 0
  while (($#)); do
    [[ -n $2 ]] || missing+=("$1")
    shift 2
  done
  ((${#missing[@]} == 0)) || die "$stack does not exist yet, so these are required: ${missing[*]} (see --help)"
}

print_outputs() {
  local stack
  for stack in "$@"; do
    [[ $(stack_status "$stack") == NONE ]] && continue
    say "$stack outputs"
    cfn describe-stacks --stack-name "$stack" --query 'Stacks[0].Outputs[].[OutputKey, OutputValue]' --output table
  done
}

if [[ $only != edge ]]; then
  require_on_create "$core_stack" --artifacts-bucket "$artifacts_bucket" --release-prefix "$release_prefix" \
    --alb-certificate "$alb_certificate"
  mapfile -t settings < <(core_parameters "${core_extra[@]}")
  deploy "$core_stack" "$here/cloudformation/core.yaml" "${settings[@]}"
fi

if [[ $only != core ]]; then
  if [[ -n $plan && $(stack_status "$core_stack") == NONE ]]; then
    say "$edge_stack: not planned: it imports the core stack's exports, and $core_stack does not exist yet"
  else
    require_on_create "$edge_stack" --domain "$domain" --zone "$zone" \
      --cloudfront-certificate "$cloudfront_certificate" --alarm-email "$alarm_email"
    mapfile -t settings < <(edge_parameters "${edge_extra[@]}")
    deploy "$edge_stack" "$here/cloudformation/edge.yaml" "${settings[@]}"
  fi
fi

# The api invalidates edge's distribution: give core its id (a rolling update).
if [[ -z $plan && -z $only ]]; then
  distribution=$(stack_output "$edge_stack" DistributionId)
  if [[ -n $distribution && $distribution != "$(stack_parameter "$core_stack" DistributionId)" ]]; then
    say "$core_stack: telling the api about distribution $distribution"
    mapfile -t settings < <(core_parameters "${core_extra[@]}" "DistributionId=$distribution")
    deploy "$core_stack" "$here/cloudformation/core.yaml" "${settings[@]}"
  fi
fi

[[ -n $plan ]] || print_outputs "$core_stack" "$edge_stack"
