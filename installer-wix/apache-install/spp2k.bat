@echo off
rem spp2k.bat: readies this command window for the ISMail EP manual's OpenSSL
rem commands ("CSRs and SSL Certificates: Manual Control"). It puts this
rem folder (openssl.exe) and the ISMail install folder (ismailctl.exe) first on
rem PATH, and points OPENSSL_CONF at this folder's openssl.cnf, which gives
rem "openssl req" the manual's fields. It changes this window only: run it
rem again in each new command window. Installed by the ISMail MSI in
rem <install folder>\Apache\install.
for %%I in ("%~dp0..\..") do set "PATH=%~dp0;%%~fI;%PATH%"
set "OPENSSL_CONF=%~dp0openssl.cnf"
openssl version
echo PATH and OPENSSL_CONF are set for this window.
echo   A key and CSR:   openssl req -newkey rsa:2048 -keyout req.key -keyform PEM -out req.pem -outform PEM -nodes
echo   View the CSR:    openssl req -in req.pem -text -noout
echo   View a cert:     openssl x509 -in mydomain.com.crt -text -noout
echo Then move req.key to ..\conf\ssl.key\mydomain.com.key and run: ismailctl cert protect mydomain.com
