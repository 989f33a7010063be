# octowiz: clone the Tentacle on app-dev-01 for Octopus Cloud
#
# What it does: creates a SECOND Tentacle instance on this machine for each registration below,
# gives it its own certificate and connects it to the Octopus Cloud instance
# https://octowiz-demo.octopus.app (space 'Default'):
#   OctopusCloud-polling-target: deployment target 'polling-target', polling polling.octowiz-demo.octopus.app on port 443
# The original instance 'Tentacle' is untouched: it keeps serving your Octopus Server.
# Run it on app-dev-01 as an administrator.
# The Octopus Cloud API key is read from the environment variable OCTOPUS_CLOUD_API_KEY, or asked
# for when that is unset; it is never written to disk.
# It stops at the first command that fails, and is safe to run again: what an earlier run did
# is kept (the instance, its certificate, its trust of Octopus Cloud, its registration).
$ErrorActionPreference = 'Stop'

$ApiKey = $env:OCTOPUS_CLOUD_API_KEY
if (-not $ApiKey) {
    $SecureKey = Read-Host -AsSecureString 'Octopus Cloud API key'
    $ApiKey = [System.Net.NetworkCredential]::new('', $SecureKey).Password
}

$Instances = & "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" list-instances --format 'json' --console
if ($LASTEXITCODE -ne 0) { Write-Host 'list-instances failed for OctopusCloud-polling-target.'; exit $LASTEXITCODE }
if ($Instances -like '*"InstanceName": "OctopusCloud-polling-target"*') {
    Write-Host 'The Tentacle instance OctopusCloud-polling-target already exists; keeping it'
} else {
    Write-Host 'Creating the Tentacle instance OctopusCloud-polling-target'
    & "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" create-instance --instance 'OctopusCloud-polling-target' --config 'C:\Octopus\OctopusCloud-polling-target\Tentacle.config' --home 'C:\Octopus\OctopusCloud-polling-target' --console
    if ($LASTEXITCODE -ne 0) { Write-Host 'create-instance failed for OctopusCloud-polling-target.'; exit $LASTEXITCODE }
}
Write-Host 'Giving OctopusCloud-polling-target its own certificate'
& "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" new-certificate --instance 'OctopusCloud-polling-target' --if-blank --console
if ($LASTEXITCODE -ne 0) { Write-Host 'new-certificate failed for OctopusCloud-polling-target.'; exit $LASTEXITCODE }
$Configuration = & "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" show-configuration --instance 'OctopusCloud-polling-target' --console
if ($LASTEXITCODE -ne 0) { Write-Host 'show-configuration failed for OctopusCloud-polling-target.'; exit $LASTEXITCODE }
if ($Configuration -like '*"Thumbprint": "77C14CD01A123FB9803F1F7BB3DCC2394CE96434"*') {
    Write-Host 'OctopusCloud-polling-target already trusts Octopus Cloud; keeping that trust and its polling subscription'
} else {
    Write-Host 'Clearing the trusted servers of OctopusCloud-polling-target'
    & "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" configure --instance 'OctopusCloud-polling-target' --reset-trust --console
    if ($LASTEXITCODE -ne 0) { Write-Host 'configure failed for OctopusCloud-polling-target.'; exit $LASTEXITCODE }
}
Write-Host 'Configuring OctopusCloud-polling-target to poll'
& "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" configure --instance 'OctopusCloud-polling-target' --app 'C:\Octopus\OctopusCloud-polling-target\Applications' --noListen 'True' --console
if ($LASTEXITCODE -ne 0) { Write-Host 'configure failed for OctopusCloud-polling-target.'; exit $LASTEXITCODE }
if ($Configuration -like '*"Thumbprint": "77C14CD01A123FB9803F1F7BB3DCC2394CE96434"*') {
    Write-Host 'OctopusCloud-polling-target is already registered with Octopus Cloud (it trusts Cloud''s certificate); skipping register-with'
} else {
    Write-Host 'Registering OctopusCloud-polling-target with Octopus Cloud as the deployment target polling-target'
    & "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" register-with --instance 'OctopusCloud-polling-target' --server 'https://octowiz-demo.octopus.app' --apiKey $ApiKey --space 'Default' --name 'polling-target' --environment 'Production' --role 'web-server' --role 'app-server' --tenant 'Contoso' --tenanttag 'Customer Tier/Gold' --tenanted-deployment-participation 'TenantedOrUntenanted' --policy 'Default Machine Policy' --comms-style 'TentacleActive' --server-comms-address 'https://polling.octowiz-demo.octopus.app' --console
    if ($LASTEXITCODE -ne 0) { Write-Host 'register-with failed for OctopusCloud-polling-target.'; exit $LASTEXITCODE }
}
Write-Host 'Installing and starting the service of OctopusCloud-polling-target'
& "C:\Program Files\Octopus Deploy\Tentacle\Tentacle.exe" service --instance 'OctopusCloud-polling-target' --install --start --console
if ($LASTEXITCODE -ne 0) { Write-Host 'service failed for OctopusCloud-polling-target.'; exit $LASTEXITCODE }

Write-Host 'Done: 1 Tentacle instance registered with Octopus Cloud; the original instance is unchanged.'
