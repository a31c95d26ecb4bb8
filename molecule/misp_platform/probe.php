<?php
// Molecule test fixture (scenario misp_platform): what MISP's PHP-FPM pool sees.
header('Content-Type: application/json');
$ini = [];
foreach (['memory_limit', 'max_execution_time', 'upload_max_filesize', 'post_max_size', 'date.timezone',
          'session.use_strict_mode', 'session.cookie_httponly', 'session.cookie_secure',
          'session.cookie_samesite', 'session.sid_length', 'session.sid_bits_per_character', 'expose_php'] as $name) {
    $ini[$name] = ini_get($name);
}
$extensions = [];
foreach (['redis', 'gd', 'intl', 'zip', 'bcmath', 'gnupg', 'curl', 'xml', 'mbstring', 'apcu', 'pdo_mysql',
          'json', 'dom', 'simplexml', 'posix', 'openssl', 'zlib', 'opcache'] as $name) {
    $extensions[$name] = extension_loaded($name) || extension_loaded('Zend ' . $name);
}
echo json_encode([
    'sapi' => PHP_SAPI,
    'php_version' => PHP_VERSION,
    'user' => posix_getpwuid(posix_geteuid())['name'],
    'ini' => $ini,
    'extensions' => $extensions,
    'request_uri' => $_SERVER['REQUEST_URI'] ?? null,
    'query_string' => $_SERVER['QUERY_STRING'] ?? null,
    'authorization' => $_SERVER['HTTP_AUTHORIZATION'] ?? null,
    'https' => $_SERVER['HTTPS'] ?? null,
]);
